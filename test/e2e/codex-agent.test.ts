// OpenAI's Codex CLI as Bosun's agent (`agent.use: codex`) in the bosun/agent-clis image, against a
// scripted Responses API model reached only through the egress proxy: it reads the bug, patches it
// with Codex's own tools (`exec_command`, and `apply_patch` through it), runs the tests and ends
// with a title and summary; the pull request fixes the demo's bug and the transcript has the
// wrapper's prompt, Codex's messages with the turn's token counts, its tool calls and results, and
// the model's host as the only, allowed, destination. A model that keeps failing fails the run
// with a message that says so.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { BosunWorld } from "../helpers/bosun-world.ts";
import { assertDemoBugFixed, assertOnlyTheModelReached, startModelAgentWorld } from "../helpers/model-agent-world.ts";
import { labelDemoIssue } from "../helpers/seed.ts";
import { ScriptedModelServer, type ScriptedTurn } from "../model-server/server.ts";
import { codexDemoScript } from "../model-server/demo-scripts.ts";

const key = "sk-test-codex-agent-key-0123456789";

function world(t: TestContext, script: ScriptedTurn[], repo: string, repoConfig?: string): Promise<{ w: BosunWorld; model: ScriptedModelServer }> {
  return startModelAgentWorld(t, { agent: "codex", key, script, repo, ...(repoConfig ? { repoConfig } : {}) });
}

test("the Codex CLI fixes the demo's bug through a scripted Responses API model behind the egress proxy", async (t) => {
  const script = codexDemoScript();
  const { w, model } = await world(t, script, "codex");
  const run = await w.waitForRun({ repo: "acme/codex", issue: await labelDemoIssue(w.gh, "codex") });
  assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${JSON.stringify(run.facts.failure ?? {})} ${run.facts.agentOutputTail ?? ""}`);
  assert.deepEqual(model.problems, [], "every request was the one the script expected");
  assert.equal(model.requests.length, 4);
  assert.ok(model.requests.every((r) => r.api === "responses" && r.model === "scripted-coder" && r.stream), "Codex streams the Responses API");
  assert.ok(model.requests.every((r) => r.headers["authorization"] === `Bearer ${key}`), "with the org's key");
  assert.deepEqual(model.sideRequests, []);
  assert.match(model.requests[0]?.lastUserText ?? "", /add\(\) subtracts instead of adding[\s\S]*first line is a pull request title/);

  const events = await assertDemoBugFixed(w, run, "codex");
  const command = events.find((e) => e.kind === "command" && e.payload["phase"] === "agent" && e.payload["command"]);
  assert.equal(command?.payload["command"], "node /bosun/agents/codex-agent.mjs");
  assert.equal(command?.payload["image"], "bosun/agent-clis:latest");

  const agent = events.filter((e) => e.payload["source"] === "agent");
  const prompt = agent.find((e) => e.kind === "prompt");
  assert.equal(prompt?.payload["agent"], "codex");
  assert.equal(prompt?.payload["model"], "scripted-coder");
  const messages = agent.filter((e) => e.kind === "model_message");
  assert.deepEqual(messages.filter((e) => e.payload["text"]).map((e) => e.payload["text"]).slice(0, 2), ["Let me look at add().", "Fix add() to add\n\nadd() subtracted; it adds now, and the tests pass."]);
  assert.deepEqual(messages.filter((e) => e.payload["usage"]).map((e) => e.payload["usage"]), [{ input_tokens: 4200, output_tokens: 140 }], "Codex counts its turn's tokens: the script's four answers");
  const calls = agent.filter((e) => e.kind === "tool_call");
  assert.deepEqual(calls.map((e) => e.payload["tool"]), ["shell", "apply_patch", "shell"]);
  assert.match(JSON.stringify(calls[0]?.payload["input"]), /cat src\/add\.js/);
  assert.match(JSON.stringify(calls[1]?.payload["input"]), /src\/add\.js/);
  const results = agent.filter((e) => e.kind === "tool_result");
  assert.deepEqual(results.map((e) => e.payload["ok"]), [true, true, true]);
  assert.deepEqual(results.map((e) => e.payload["id"]), calls.map((e) => e.payload["id"]));
  assert.match(String(results[2]?.payload["output"]), /exit code: 0[\s\S]*add: 2 tests passed/);

  assertOnlyTheModelReached(events, key);
});

test("a model that keeps failing, or stops answering, fails the Codex run with a message that says so", async (t) => {
  // Codex retries a failed request once and a failed stream once (the wrapper's settings): four answers of 500, then a model that never answers.
  const { w, model } = await world(t, [
    ...Array.from({ length: 4 }, (): ScriptedTurn => ({ fault: { status: 500, message: "the model is overloaded" } })),
    { fault: "stall" },
  ], "flaky", "agent:\n  use: codex\n  inactivity_minutes: 0.25\ntest:\n  command: npm test\n");
  const first = await w.waitForRun({ repo: "acme/flaky", issue: await labelDemoIssue(w.gh, "flaky") });
  assert.equal(first.state, "failed");
  assert.match(JSON.stringify(first.facts.failure ?? first.outcome), /codex agent: Codex failed \(exit code 1; model scripted-coder at models\.bosun\.test:\d+\): /);
  assert.equal(model.requests.length, 4, "the retries are bounded");

  const second = await w.waitForRun({ repo: "acme/flaky", issue: await labelDemoIssue(w.gh, "flaky", { title: "Again" }) });
  assert.equal(second.state, "failed");
  assert.match(JSON.stringify(second.facts.failure ?? second.outcome), /codex agent: the model endpoint did not answer within 10 s \(model scripted-coder at models\.bosun\.test:\d+\)/);
  assert.deepEqual(model.problems, [], "no request past the script");
});
