// `npm run demo -- --json`, as a user runs it: its last line says how the run ended.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { freePort } from "../helpers/bosun-world.ts";

const run = promisify(execFile);

test("the demo takes the seeded issue to a ready pull request and exports the transcript", async () => {
  const { stdout } = await run(process.execPath, ["scripts/demo.ts", "--json"], {
    env: { ...process.env, PORT: String(await freePort()) },
    maxBuffer: 16 * 1024 * 1024,
    timeout: 300_000,
  });
  const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as {
    state: string; pull_request: { number: number; url: string; draft: boolean; check_conclusion: string } | null; progress_comment: string; transcript: string; run_id: string;
  };
  assert.equal(result.state, "succeeded");
  assert.equal(result.pull_request?.draft, false);
  assert.equal(result.pull_request?.check_conclusion, "success");
  assert.match(result.pull_request?.url ?? "", /\/acme\/widgets\/pull\/2$/);
  assert.match(result.progress_comment, /Bosun · ✅ Done/);
  const lines = (await readFile(result.transcript, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as { run_id: string; kind: string });
  assert.ok(lines.every((l) => l.run_id === result.run_id));
  const kinds = lines.map((l) => l.kind);
  for (const k of ["state", "command", "file_diff", "test", "token_minted", "pull_request", "token_revoked"]) assert.ok(kinds.includes(k), `transcript has ${k}`);
});
