// Anthropic's Claude Code as Bosun's agent (`agent.use: claude`) in the bosun/agent-clis image,
// against a scripted Anthropic Messages model reached only through the egress proxy: it reads the
// bug, edits it with Claude Code's own tools (`Read`, `Edit`, `Bash`), runs the tests and ends with
// a title and summary; the pull request fixes the demo's bug and the transcript has the wrapper's
// prompt, each model response with its token counts, the tool calls and results, and the model's
// host as the only, allowed, destination. A model that keeps failing fails the run with a message
// that says so.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { BosunWorld } from "../helpers/bosun-world.ts";
import { assertDemoBugFixed, assertOnlyTheModelReached, startModelAgentWorld } from "../helpers/model-agent-world.ts";
import { labelDemoIssue } from "../helpers/seed.ts";
import { ScriptedModelServer, type ScriptedTurn } from "../model-server/server.ts";
import { claudeDemoScript } from "../model-server/demo-scripts.ts";

const key = "sk-ant-test-claude-agent-key-0123456789";

function world(t: TestContext, script: ScriptedTurn[], repo: string, repoConfig?: string): Promise<{ w: BosunWorld; model: ScriptedModelServer }> {
  return startModelAgentWorld(t, { agent: "claude", key, script, repo, ...(repoConfig ? { repoConfig } : {}) });
}

test("Claude Code fixes the demo's bug through a scripted Anthropic Messages model behind the egress proxy", async (t) => {
  const script = claudeDemoScript();
  const { w, model } = await world(t, script, "claude");
  const run = await w.waitForRun({ repo: "acme/claude", issue: await labelDemoIssue(w.gh, "claude") });
  assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${JSON.stringify(run.facts.failure ?? {})} ${run.facts.agentOutputTail ?? ""}`);
  assert.deepEqual(model.problems, [], "every request was the one the script expected");
  assert.equal(model.requests.length, 4);
  assert.ok(model.requests.every((r) => r.api === "messages" && r.model === "scripted-coder" && r.stream), "Claude Code streams Anthropic Messages");
  assert.ok(model.requests.every((r) => r.headers["x-api-key"] === key), "with the org's key");
  assert.ok(model.sideRequests.every((r) => r.model === "scripted-coder"), "side requests, if any, ask for the org's model too");
  assert.match(model.requests[0]?.lastUserText ?? "", /add\(\) subtracts instead of adding[\s\S]*first line is a pull request title/);

  const events = await assertDemoBugFixed(w, run, "claude");
  const command = events.find((e) => e.kind === "command" && e.payload["phase"] === "agent" && e.payload["command"]);
  assert.equal(command?.payload["command"], "node /bosun/agents/claude-agent.mjs");
  assert.equal(command?.payload["image"], "bosun/agent-clis:latest");

  const agent = events.filter((e) => e.payload["source"] === "agent");
  const prompt = agent.find((e) => e.kind === "prompt");
  assert.equal(prompt?.payload["agent"], "claude");
  assert.ok(["Read", "Edit", "Bash"].every((n) => (prompt?.payload["tools"] as string[]).includes(n)), "the tools Claude Code has");
  const messages = agent.filter((e) => e.kind === "model_message" && e.payload["usage"]);
  assert.deepEqual(messages.map((e) => e.payload["usage"]), [
    { input_tokens: 900, output_tokens: 30 }, { input_tokens: 1000, output_tokens: 40 }, { input_tokens: 1100, output_tokens: 20 }, { input_tokens: 1200, output_tokens: 50 },
  ], "each model response with its own token counts");
  assert.deepEqual(messages.map((e) => e.payload["text"]), ["Let me look at add().", "", "", "Fix add() to add\n\nadd() subtracted; it adds now, and the tests pass."]);
  const calls = agent.filter((e) => e.kind === "tool_call");
  assert.deepEqual(calls.map((e) => e.payload["tool"]), ["Read", "Edit", "Bash"]);
  assert.deepEqual(calls[1]?.payload["input"], { file_path: "/workspace/src/add.js", old_string: "return a - b;", new_string: "return a + b;", replace_all: false });
  const results = agent.filter((e) => e.kind === "tool_result");
  assert.deepEqual(results.map((e) => [e.payload["tool"], e.payload["ok"]]), [["Read", true], ["Edit", true], ["Bash", true]]);
  assert.deepEqual(results.map((e) => e.payload["id"]), calls.map((e) => e.payload["id"]));

  assertOnlyTheModelReached(events, key);
});

test("a model that keeps failing, or stops answering, fails the Claude Code run with a message that says so", async (t) => {
  // Claude Code tries each request three times (the wrapper's CLAUDE_CODE_MAX_RETRIES=2), each within BOSUN_MODEL_TIMEOUT_SECONDS.
  const { w, model } = await world(t, [
    ...Array.from({ length: 3 }, (): ScriptedTurn => ({ fault: { status: 500, message: "the model is overloaded" } })),
    ...Array.from({ length: 3 }, (): ScriptedTurn => ({ fault: "stall" })),
  ], "flaky", "agent:\n  use: claude\n  inactivity_minutes: 0.25\ntest:\n  command: npm test\n");
  const first = await w.waitForRun({ repo: "acme/flaky", issue: await labelDemoIssue(w.gh, "flaky") });
  assert.equal(first.state, "failed");
  assert.match(JSON.stringify(first.facts.failure ?? first.outcome), /claude agent: Claude Code failed \(exit code 1; model scripted-coder at models\.bosun\.test:\d+\): API Error: 500 the model is overloaded/);
  assert.equal(model.requests.length, 3, "the retries are bounded");

  const second = await w.waitForRun({ repo: "acme/flaky", issue: await labelDemoIssue(w.gh, "flaky", { title: "Again" }) });
  assert.equal(second.state, "failed");
  assert.match(JSON.stringify(second.facts.failure ?? second.outcome), /claude agent: Claude Code failed .*Request timed out/);
  assert.deepEqual(model.problems, [], "no request past the script");
});
