// What an auditor takes away: `npm run transcript -- <run>` prints the run's events as JSONL, in
// order and redacted; `--summary` prints states with times, tokens with their permissions and
// lifetimes, hosts reached and refused, tests and the pull request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { readTranscript } from "../../src/audit/transcript.ts";
import type { RunSummary } from "../../src/audit/summary.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const run = promisify(execFile);
const probe = `node -e 'require("http").get({host:"127.0.0.1",port:3128,path:"http://evil.bosun.test/",headers:{host:"evil.bosun.test"}}, r => r.resume()).on("error", () => {})'`;

test("a run's transcript as JSONL and its summary, from the command line", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "audited", { protect: true, files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(`${probe}; sleep 1; node /bosun/agents/patch-agent.mjs`)}\ntest:\n  command: npm test\n` } });
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: []\n" } });
  const done = await w.waitForRun({ repo: "acme/audited", issue: await labelDemoIssue(w.gh, "audited") });
  assert.equal(done.state, "succeeded", done.outcome ?? "");

  const env = { ...process.env, DATABASE_URL: (w.bosun.pool as unknown as { options: { connectionString: string } }).options.connectionString };
  const cli = (...args: string[]) => run(process.execPath, ["scripts/transcript.ts", ...args], { env, maxBuffer: 64 * 1024 * 1024 });

  const jsonl = (await cli(done.id)).stdout;
  const lines = jsonl.trimEnd().split("\n").map((l) => JSON.parse(l) as { run_id: string; seq: number; kind: string });
  const stored = await readTranscript(w.bosun.pool, done.id);
  assert.equal(lines.length, stored.length, "one line per event");
  assert.deepEqual(lines.map((l) => l.seq), stored.map((e) => e.seq), "in order");
  assert.ok(lines.every((l) => l.run_id === done.id));
  for (const tk of w.gh.installationTokens()) assert.ok(!jsonl.includes(tk.token), "no token value is exported");

  const summary = JSON.parse((await cli(done.id, "--summary")).stdout) as RunSummary;
  assert.deepEqual(summary.states.map((s) => s.to), ["queued", "preparing", "running", "verifying", "awaiting_push_approval", "publishing", "succeeded"]);
  assert.ok(summary.states.every((s, i) => i === 0 || Date.parse(s.at) >= Date.parse(summary.states[i - 1]?.at ?? "")), "times in order");
  assert.ok(summary.tokens.length >= 4, "every token minted");
  for (const tk of summary.tokens) {
    assert.ok(tk.revoked_at !== null && tk.lived_seconds !== null && tk.lived_seconds >= 0, `${tk.purpose} was revoked, with its lifetime`);
    assert.ok(Object.values(tk.permissions).every((p) => p === "read" || p === "write"));
  }
  assert.deepEqual(summary.tokens.find((tk) => tk.purpose === "fetch")?.permissions, { contents: "read", issues: "read", metadata: "read" });
  assert.deepEqual(summary.network, [{ phase: "agent", reached: [], refused: ["evil.bosun.test:80"] }]);
  assert.deepEqual(summary.tests.map((x) => [x.command, x.exit_code, x.commit]), [["npm test", 0, done.facts.commitSha]]);
  assert.equal(summary.pull_request?.number, done.prNumber);
  assert.equal(summary.pull_request?.branch, done.branch);
  assert.deepEqual(summary.errors, []);

  const missing = await cli("00000000-0000-4000-8000-000000000000").then(() => null, (e: { code?: number; stderr?: string }) => e);
  assert.equal(missing?.code, 1);
  assert.match(missing?.stderr ?? "", /no run 00000000-0000-4000-8000-000000000000 in this database/);
});

test("retention: an ended run's events are reduced to its summary, which the export still gives", async (t) => {
  const w = await startBosunWorld(t, { BOSUN_SWEEP_SECONDS: "1" });
  await seedDemoRepo(w.gh, "brief");
  // About two seconds.
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "retention:\n  transcript_days: 0.00002\n" } });
  const done = await w.waitForRun({ repo: "acme/brief", issue: await labelDemoIssue(w.gh, "brief") });
  assert.equal(done.state, "succeeded", done.outcome ?? "");
  assert.ok((await readTranscript(w.bosun.pool, done.id)).length > 10, "the events are there at first");

  let reduced = done;
  for (let i = 0; i < 100 && !reduced.facts.transcriptReducedAt; i++) {
    await new Promise((r) => setTimeout(r, 200));
    reduced = (await w.bosun.store.get(done.id)) ?? done;
  }
  assert.ok(reduced.facts.transcriptReducedAt, "the scheduled job reduced the run");
  assert.deepEqual(await readTranscript(w.bosun.pool, done.id), [], "its events are gone");
  assert.deepEqual(reduced.facts.retainedSummary?.states.map((s) => s.to), ["queued", "preparing", "running", "verifying", "awaiting_push_approval", "publishing", "succeeded"]);

  const env = { ...process.env, DATABASE_URL: (w.bosun.pool as unknown as { options: { connectionString: string } }).options.connectionString };
  const summary = JSON.parse((await run(process.execPath, ["scripts/transcript.ts", done.id, "--summary"], { env })).stdout) as RunSummary;
  assert.equal(summary.pull_request?.number, done.prNumber, "the export gives the kept summary");
  const jsonl = await run(process.execPath, ["scripts/transcript.ts", done.id], { env });
  assert.equal(jsonl.stdout, "");
  assert.match(jsonl.stderr, /were reduced to its summary on .* \(retention\); use --summary/);
});
