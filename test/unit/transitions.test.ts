// The run state machine: the only moves there are.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runStates } from "../../src/runs/run.ts";
import { allowedNext, assertTransition } from "../../src/runs/transition.ts";

test("the happy path is allowed, step by step", () => {
  const path = ["queued", "preparing", "running", "verifying", "publishing", "succeeded"] as const;
  for (let i = 1; i < path.length; i++) assertTransition(path[i - 1] ?? "queued", path[i] ?? "queued");
});

test("steps cannot be skipped and ended runs stay ended", () => {
  assert.throws(() => assertTransition("queued", "publishing"), /illegal transition queued → publishing/);
  assert.throws(() => assertTransition("running", "succeeded"), /illegal transition/);
  for (const end of ["succeeded", "failed", "cancelled", "refused"] as const) {
    assert.deepEqual(allowedNext(end), []);
  }
});

test("every live state can fail or be cancelled", () => {
  for (const s of runStates) {
    if (["succeeded", "failed", "cancelled", "refused"].includes(s)) continue;
    assert.ok(allowedNext(s).includes("failed"), s);
    assert.ok(allowedNext(s).includes("cancelled"), s);
  }
});
