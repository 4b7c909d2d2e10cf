// `npm run demo -- --json`, as a user runs it: its last line says how the run ended, and the
// transcript it exports is valid against the published schema and tells the run in order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../helpers/bosun-world.ts";
import { publishedEventValidator } from "../helpers/published-schema.ts";
import { demoRepoFiles } from "../fixtures/demo-repo.ts";

const run = promisify(execFile);

interface Line { run_id: string; seq: number; at: string; kind: string; payload: Record<string, unknown> }

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
  const lines = (await readFile(result.transcript, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Line);
  assert.ok(lines.every((l) => l.run_id === result.run_id));

  // Every line is valid against the schema published for consumers of the export.
  const { validate, errors } = await publishedEventValidator();
  for (const l of lines) assert.ok(validate(l), `line ${l.seq} (${l.kind}): ${errors()}`);
  const aState = lines.find((l) => l.kind === "state");
  assert.ok(aState && !validate({ ...aState, payload: { ...aState.payload, to: "flying" } }), "the schema refuses what it must");
  assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1), "one line per event, in order");
  assert.ok(lines.every((l, i) => i === 0 || Date.parse(l.at) >= Date.parse(lines[i - 1]?.at ?? "")), "times in order");

  // In order: the state changes, the agent's commands, the diff, the test, the push and the pull request.
  const at = (pred: (l: Line) => boolean): number[] => lines.flatMap((l, i) => (pred(l) ? [i] : []));
  const states = at((l) => l.kind === "state");
  assert.deepEqual(states.map((i) => [lines[i]?.payload["from"], lines[i]?.payload["to"]]), [
    ["queued", "preparing"], ["preparing", "running"], ["running", "verifying"], ["verifying", "awaiting_push_approval"], ["awaiting_push_approval", "publishing"], ["publishing", "succeeded"],
  ]);
  const [, running = -1, verifying = -1, held = -1, publishing = -1, succeeded = -1] = states;
  // Held until Owen approved the change the progress comment showed, then published.
  const approvedAt = lines.findIndex((l) => l.kind === "policy_decision" && l.payload["rule"] === "push approval" && l.payload["decision"] === "approved");
  assert.equal(lines[approvedAt]?.payload["by"], "owen");
  assert.ok(held < approvedAt && approvedAt < publishing);
  const fromAgent = (l: Line) => l.payload["source"] === "agent";
  const agentPhase = at((l) => l.kind === "command" && !fromAgent(l) && l.payload["phase"] === "agent");
  assert.equal(agentPhase.length, 2, "Bosun records the agent's command as it starts and as it ends");
  const [agentStarts = -1, agentEnds = -1] = agentPhase;
  assert.equal(lines[agentStarts]?.payload["command"], "node /bosun/agents/patch-agent.mjs");
  assert.equal(lines[agentEnds]?.payload["exit_code"], 0);
  assert.ok(running < agentStarts && agentEnds < verifying, "the agent runs in `running`");
  const agentCommands = at((l) => fromAgent(l) && (l.kind === "tool_call" || l.kind === "command"));
  assert.ok(agentCommands.some((i) => lines[i]?.payload["command"] === "git apply --recount /tmp/issue.patch"), "the agent's commands, as it printed them");
  assert.ok(at(fromAgent).every((i) => agentStarts < i && i < agentEnds), "everything the agent printed, while it ran");

  const diffs = at((l) => l.kind === "file_diff");
  assert.equal(diffs.length, 1);
  const diff = lines[diffs[0] ?? -1];
  assert.ok(verifying < (diffs[0] ?? -1), "the diff after the agent, in `verifying`");
  assert.deepEqual((diff?.payload["files"] as { path: string }[]).map((f) => f.path), ["src/add.js"]);
  const tests = at((l) => l.kind === "test");
  assert.equal(tests.length, 1);
  const tested = lines[tests[0] ?? -1];
  assert.ok((diffs[0] ?? -1) < (tests[0] ?? -1) && (tests[0] ?? -1) < publishing, "the test after the diff, before publishing");
  assert.deepEqual([tested?.payload["command"], tested?.payload["exit_code"], tested?.payload["commit"]], ["npm test", 0, diff?.payload["commit"]], "the diff's commit is what was tested");
  const pushes = at((l) => l.kind === "push");
  assert.equal(pushes.length, 1);
  assert.equal(lines[pushes[0] ?? -1]?.payload["commit"], diff?.payload["commit"], "the tested commit is what was pushed");
  const prs = at((l) => l.kind === "pull_request");
  assert.equal(prs.length, 1);
  assert.deepEqual([lines[prs[0] ?? -1]?.payload["number"], lines[prs[0] ?? -1]?.payload["draft"]], [result.pull_request?.number, false]);
  assert.ok(publishing < (pushes[0] ?? -1) && (pushes[0] ?? -1) < (prs[0] ?? -1) && (prs[0] ?? -1) < succeeded, "push, then the pull request, then the run ends");

  // Tokens (a token's events name its purpose, not the token): as many revocations as mintings per
  // purpose, and the k-th revocation after the k-th minting, so each revocation has a token before it.
  const minted = new Map<string, number[]>();
  const revoked = new Map<string, number[]>();
  for (const [i, l] of lines.entries()) {
    const book = l.kind === "token_minted" ? minted : l.kind === "token_revoked" ? revoked : null;
    if (book) book.set(String(l.payload["purpose"]), [...(book.get(String(l.payload["purpose"])) ?? []), i]);
  }
  assert.deepEqual([...minted.keys()].sort(), ["fetch", "publish", "report"]);
  for (const [purpose, m] of minted) {
    const r = revoked.get(purpose) ?? [];
    assert.equal(r.length, m.length, `every ${purpose} token revoked`);
    assert.ok(m.every((mi, k) => mi < (r[k] ?? -1)), `${purpose}: minted at ${m.join(", ")}, revoked at ${r.join(", ")}`);
  }
  assert.ok([...minted.values()].flat().every((i) => i < succeeded), "no token minted after the run ended");
  assert.ok(minted.get("publish")?.every((i) => publishing < i), "the token that can write, only to publish");
});

// Each model agent, as a user tries it: the demo starts the scripted model server and names it in the org's policy.
const agentTools: Record<string, string[]> = {
  builtin: ["read_file", "replace_in_file", "run_command", "finish"],
  codex: ["shell", "apply_patch", "shell"],
  claude: ["Read", "Edit", "Bash"],
};
for (const [agent, tools] of Object.entries(agentTools)) {
  test(`npm run demo -- --agent ${agent}: the agent fixes the bug through the scripted model`, async () => {
    const { stdout } = await run(process.execPath, ["scripts/demo.ts", "--agent", agent, "--json"], {
      env: { ...process.env, PORT: String(await freePort()) },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 300_000,
    });
    const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { state: string; pull_request: { draft: boolean; check_conclusion: string } | null; transcript: string };
    assert.equal(result.state, "succeeded");
    assert.equal(result.pull_request?.check_conclusion, "success");
    const lines = (await readFile(result.transcript, "utf8")).trim().split("\n").map((l) => JSON.parse(l) as Line);
    const fromAgent = lines.filter((l) => l.payload["source"] === "agent");
    assert.deepEqual(fromAgent.filter((l) => l.kind === "tool_call").map((l) => l.payload["tool"]), tools);
    assert.ok(fromAgent.some((l) => l.kind === "model_message" && ((l.payload["usage"] as { output_tokens?: number } | undefined)?.output_tokens ?? 0) > 0), "token counts from the model");
    const network = lines.filter((l) => l.kind === "network").map((l) => [l.payload["phase"], l.payload["host"], l.payload["allowed"]]);
    assert.ok(network.length > 0 && network.every(([phase, host, allowed]) => phase === "agent" && host === "models.bosun.test" && allowed === true), JSON.stringify(network));
  });
}

// `--repo DIR`, as a user tries Bosun on a repository of their own: a local git repository with a
// workflow folder becomes acme/widgets (pushed as @maya), and the labelled issue ends in a ready pull request.
test("npm run demo -- --repo DIR: a local repository with workflows, to a ready pull request", async () => {
  const dir = await mkdtemp(join(tmpdir(), "bosun-demo-repo-"));
  try {
    const files = { ...demoRepoFiles, ".github/workflows/ci.yml": "name: ci\non: [push, pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: npm test\n" };
    for (const [path, content] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), content);
    }
    const git = (...args: string[]) => run("git", ["-C", dir, ...args], { env: { ...process.env, GIT_AUTHOR_NAME: "Someone", GIT_AUTHOR_EMAIL: "someone@example.test", GIT_COMMITTER_NAME: "Someone", GIT_COMMITTER_EMAIL: "someone@example.test" } });
    await git("init", "--quiet", "--initial-branch=trunk");
    await git("add", "--all");
    await git("commit", "--quiet", "-m", "A library with a bug");
    const { stdout } = await run(process.execPath, ["scripts/demo.ts", "--repo", dir, "--json"], {
      env: { ...process.env, PORT: String(await freePort()) },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 300_000,
    });
    const result = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { state: string; pull_request: { draft: boolean; check_conclusion: string } | null; progress_comment: string };
    assert.equal(result.state, "succeeded", stdout.slice(-3000));
    assert.equal(result.pull_request?.draft, false);
    assert.equal(result.pull_request?.check_conclusion, "success");
    assert.match(result.progress_comment, /@owen approved the change before it was pushed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
