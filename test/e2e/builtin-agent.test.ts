// Bosun's builtin agent in the sandbox, against a scripted OpenAI-compatible model reached only
// through the egress proxy: it reads the bug, patches it, runs the tests and finishes; the pull
// request fixes the demo's bug and the transcript has the agent's own prompt, model messages with
// token counts, tool calls and results, and the model's host as an allowed destination. A model
// that errors or stalls fails the run with a clear message instead of hanging it.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { BosunWorld } from "../helpers/bosun-world.ts";
import { assertDemoBugFixed, assertOnlyTheModelReached, startModelAgentWorld } from "../helpers/model-agent-world.ts";
import { labelDemoIssue } from "../helpers/seed.ts";
import { ScriptedModelServer, type ScriptedTurn } from "../model-server/server.ts";
import { builtinDemoScript } from "../model-server/demo-scripts.ts";

const key = "sk-test-builtin-agent-key-0123456789";

function world(t: TestContext, script: ScriptedTurn[], repo: string, repoConfig?: string): Promise<{ w: BosunWorld; model: ScriptedModelServer }> {
  return startModelAgentWorld(t, { agent: "builtin", key, script, repo, ...(repoConfig ? { repoConfig } : {}) });
}

test("the builtin agent fixes the demo's bug through a scripted model behind the egress proxy", async (t) => {
  const script = builtinDemoScript();
  const { w, model } = await world(t, script, "builtin");
  const run = await w.waitForRun({ repo: "acme/builtin", issue: await labelDemoIssue(w.gh, "builtin") });
  assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${JSON.stringify(run.facts.failure ?? {})}`);
  assert.deepEqual(model.problems, [], "every request was the one the script expected");
  assert.equal(model.requests.length, 4);
  assert.ok(model.requests.every((r) => r.api === "chat" && r.model === "scripted-coder"));

  const events = await assertDemoBugFixed(w, run, "builtin");

  const agent = events.filter((e) => e.payload["source"] === "agent");
  const prompt = agent.find((e) => e.kind === "prompt");
  assert.deepEqual(prompt?.payload["tools"], ["list_files", "read_file", "search", "write_file", "replace_in_file", "run_command", "finish"]);
  const messages = agent.filter((e) => e.kind === "model_message" && e.payload["usage"]);
  assert.deepEqual(messages.map((e) => e.payload["usage"]), [
    { input_tokens: 900, output_tokens: 30 }, { input_tokens: 1000, output_tokens: 40 }, { input_tokens: 1100, output_tokens: 20 }, { input_tokens: 1200, output_tokens: 50 },
  ]);
  assert.deepEqual(agent.filter((e) => e.kind === "tool_call").map((e) => e.payload["tool"]), ["read_file", "replace_in_file", "run_command", "finish"]);
  assert.deepEqual(agent.filter((e) => e.kind === "tool_result").map((e) => e.payload["ok"]), [true, true, true, true]);
  assertOnlyTheModelReached(events, key);
});

test("a model that errors, stops answering or answers nonsense fails the run with a message that says so", async (t) => {
  const { w } = await world(t, [
    { fault: { status: 500, message: "the model is overloaded" } },
    { fault: "stall" },
    { fault: "nonsense" },
  ], "flaky", "agent:\n  use: builtin\n  inactivity_minutes: 0.25\ntest:\n  command: npm test\n");
  const first = await w.waitForRun({ repo: "acme/flaky", issue: await labelDemoIssue(w.gh, "flaky") });
  assert.equal(first.state, "failed");
  assert.match(JSON.stringify(first.facts.failure ?? first.outcome), /the model endpoint answered 500: the model is overloaded/);

  const second = await w.waitForRun({ repo: "acme/flaky", issue: await labelDemoIssue(w.gh, "flaky", { title: "Again" }) });
  assert.equal(second.state, "failed");
  assert.match(JSON.stringify(second.facts.failure ?? second.outcome), /the model endpoint did not answer within 10 s/);

  const third = await w.waitForRun({ repo: "acme/flaky", issue: await labelDemoIssue(w.gh, "flaky", { title: "Once more" }) });
  assert.equal(third.state, "failed");
  assert.match(JSON.stringify(third.facts.failure ?? third.outcome), /the model endpoint's answer is not (JSON|a Chat Completions response)/);
});
