// The transcript's schema accepts what Bosun and agents write, and refuses what it must not.
import { test } from "node:test";
import assert from "node:assert/strict";
import { transcriptEventSchema } from "../../src/audit/event-schema.ts";

const envelope = { run_id: "0f8fad5b-d9cb-469f-a165-70867728950e", seq: 3, at: "2026-11-25T18:00:00.000Z" };
const ok = (kind: string, payload: Record<string, unknown>) => transcriptEventSchema.safeParse({ ...envelope, kind, payload });

test("Bosun's own events with their fields pass", () => {
  assert.ok(ok("state", { from: "queued", to: "preparing" }).success);
  assert.ok(ok("token_minted", { purpose: "fetch", repositories: ["acme/app"], permissions: { contents: "read" }, expires_at: "2026-11-25T19:00:00Z" }).success);
  assert.ok(ok("push", { branch: "bosun/1-fix", commit: "a".repeat(40), previous: null }).success);
  assert.ok(ok("policy_decision", { rule: "who may start work", decision: "allowed", reason: "…" }).success);
});

test("an agent's events carry their source and attempt, and otherwise say what the agent said", () => {
  assert.ok(ok("tool_call", { source: "agent", bosun_attempt: 2, tool: "run", anything: [1, 2] }).success);
  assert.ok(ok("agent_output", { source: "agent", bosun_attempt: 1, line: "hello" }).success);
});

test("what must not pass", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ["state", { from: "queued", to: "flying" }, /payload\.to/],
    ["token_minted", { purpose: "fetch", repositories: ["acme/app"], permissions: { contents: "admin" }, expires_at: "x" }, /payload\.permissions\.contents/],
    ["push", { branch: "main", commit: "a".repeat(40), previous: null }, /payload\.branch/],
    ["policy_decision", { decision: "allowed" }, /payload\.rule/],
    ["tool_call", { tool: "run" }, /only an agent records tool_call events/],
    ["agent_output", { source: "agent", line: "no attempt" }, /payload\.bosun_attempt/],
  ];
  for (const [kind, payload, message] of cases) {
    const r = ok(kind, payload);
    assert.ok(!r.success, `${kind} ${JSON.stringify(payload)} is refused`);
    assert.match(r.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("\n"), message);
  }
  assert.ok(!transcriptEventSchema.safeParse({ ...envelope, kind: "gossip", payload: {} }).success, "unknown kinds are refused");
  assert.ok(!transcriptEventSchema.safeParse({ ...envelope, seq: 0, kind: "error", payload: { message: "x" } }).success, "seq starts at 1");
});
