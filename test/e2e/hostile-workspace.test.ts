// An agent that leaves traps in its workspace: a symlink over CODEOWNERS, a git hook, a huge
// result.json, a flood of output without newlines. Bosun takes only the diff, on its own side,
// and nothing the agent wrote runs or is read on the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

const marker = `/tmp/bosun-hostile-${process.pid}`;
const agent = [
  "node /bosun/agents/patch-agent.mjs",
  "rm CODEOWNERS && ln -s /etc/passwd CODEOWNERS",
  `printf '#!/bin/sh\\ntouch ${marker}\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit`,
  `printf '[core]\\n\\thooksPath = .git/hooks\\n\\tfsmonitor = "touch ${marker}"\\n' >> .git/config`,
  "head -c 300000 /dev/zero | tr '\\\\0' x",
  "head -c 2000000 /dev/zero > /bosun/result.json",
].join(" && ");

test("traps left in the workspace do nothing on Bosun's side", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "traps", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(agent)}\ntest:\n  command: npm test\n` } });
  const maya = w.gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo: "traps", title: demoIssue.title, body: demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo: "traps", issue_number: issue.data.number, labels: ["bosun"] });
  const run = await w.waitForRun({ repo: "acme/traps", issue: issue.data.number });
  assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${run.lastError ?? ""}`);

  await assert.rejects(access(marker), "no hook or fsmonitor command of the agent ran on the host");
  const pr = [...w.gh.repo("acme/traps").issues.values()].find((i) => i.pull);
  assert.ok(pr?.pull);
  assert.deepEqual([...pr.pull.requestedReviewers], ["owen"], "reviewers come from the base commit's CODEOWNERS, not the agent's symlink");
  const head = await w.gh.branchSha("acme/traps", pr.pull.head);
  const tree = await w.gh.world.git.entry("acme", "traps", head ?? "", "");
  assert.ok(tree?.type === "dir");
  const ls = await import("node:child_process").then(({ execFileSync }) => execFileSync("git", ["ls-tree", head ?? "", "CODEOWNERS"], { cwd: w.gh.world.git.path("acme", "traps") }).toString());
  assert.match(ls, /^120000 /, "the symlink is proposed as a symlink, for reviewers to see");
  assert.equal(await w.gh.fileAt("acme/traps", pr.pull.head, "src/add.js"), "// Adds two numbers.\nexport function add(a, b) {\n  return a + b;\n}\n");

  const events = await readTranscript(w.bosun.pool, run.id);
  assert.ok(events.some((e) => e.kind === "error" && String(e.payload["message"]).includes("larger than 256 KiB")));
  const agentEvents = events.filter((e) => e.payload["source"] === "agent");
  assert.ok(agentEvents.length > 0 && agentEvents.every((e) => ["model_message", "tool_call", "tool_result", "command", "prompt", "agent_output"].includes(e.kind)));
  assert.ok(agentEvents.every((e) => JSON.stringify(e.payload).length < 70_000), "no event holds an unbounded line");
});
