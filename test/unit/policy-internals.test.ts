// A transcript for someone outside the org: what happened stays, how the org is set up goes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { summaryWithoutPolicyInternals, withoutPolicyInternals } from "../../src/audit/policy-internals.ts";
import { summarizeRun } from "../../src/audit/summary.ts";
import type { Run } from "../../src/runs/run.ts";

const ev = (kind: string, payload: Record<string, unknown>) => ({ kind, payload });
const note = "the org's policy details are shown to members of acme";

test("policy decisions keep their rule and outcome, not the org's settings, sources, secret names or reasons", () => {
  const cases: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ rule: "effective settings", decision: "applied", policy: { sandbox: { phases: { agent: { hosts: ["build.corp.internal"], addresses: { "build.corp.internal": "10.1.2.3" }, secrets: ["DEPLOY_KEY"] } } } }, sources: { x: "acme/.github" } },
      { rule: "effective settings", decision: "applied", redacted: note }],
    [{ rule: "secrets", phase: "setup", given: ["NPM_TOKEN"] }, { rule: "secrets", phase: "setup", redacted: note }],
    [{ rule: "sandbox.phases.test.secrets_reach_agent_code", decision: "withheld", phase: "test", withheld: ["DB_PASSWORD"], given: [], reason: "…", source: "acme/.github" },
      { rule: "sandbox.phases.test.secrets_reach_agent_code", decision: "withheld", phase: "test", redacted: note }],
    [{ rule: "budgets.runs_per_day", source: "acme/.github", scope: "org", limit: 40, used: 3, decision: "allowed" }, { rule: "budgets.runs_per_day", decision: "allowed", redacted: note }],
    [{ rule: "who may start work", decision: "refused", reason: "not in team acme/release-captains" }, { rule: "who may start work", decision: "refused", redacted: note }],
    [{ rule: "push approval", decision: "approved", by: "owen", commit: "abc" }, { rule: "push approval", decision: "approved", by: "owen", commit: "abc" }],
  ];
  for (const [payload, shown] of cases) assert.deepEqual(withoutPolicyInternals(ev("policy_decision", payload), "acme").payload, shown, String(payload["rule"]));
});

test("network events keep hosts the agent tried or a public preset allowed; hosts from the org's list and every reason go", () => {
  const base = { phase: "agent", port: 443, method: "CONNECT", bytesUp: 0, bytesDown: 0 };
  const shown = (p: Record<string, unknown>) => withoutPolicyInternals(ev("network", { ...base, ...p }), "acme").payload;
  assert.deepEqual(shown({ host: "build.corp.internal", allowed: true, reason: '"build.corp.internal" matches "build.corp.internal" (policy: network.hosts)' }),
    { ...base, host: "(a host the org's policy lists)", allowed: true, reason: note });
  assert.deepEqual(shown({ host: "registry.npmjs.org", allowed: true, reason: '"registry.npmjs.org" matches "registry.npmjs.org" (preset npm)' }),
    { ...base, host: "registry.npmjs.org", allowed: true, reason: note });
  assert.deepEqual(shown({ host: "evil.example", allowed: false, reason: '"evil.example" is in the allowlist, but not on port 443 (allowed ports: 8443)' }),
    { ...base, host: "evil.example", allowed: false, reason: note });
  const other = ev("state", { from: "queued", to: "preparing" });
  assert.equal(withoutPolicyInternals(other, "acme"), other, "other events are untouched");
});

test("a kept summary loses policy reasons and the hosts reached", () => {
  const run = { id: "r", owner: "acme", repo: "w", issueNumber: 1, mode: "pull_request", requestedBy: "maya", state: "failed", outcome: null, createdAt: new Date(0), attempt: 1, branch: null, headSha: null } as unknown as Run;
  const at = new Date(1);
  const s = summarizeRun(run, [
    { runId: "r", seq: 1, at, kind: "network", payload: { phase: "agent", host: "build.corp.internal", port: 443, allowed: true } },
    { runId: "r", seq: 2, at, kind: "policy_decision", payload: { rule: "modes", decision: "refused", reason: "acme allows plan only" } },
  ]);
  const hidden = summaryWithoutPolicyInternals(s, "acme");
  assert.deepEqual(hidden.network, [{ phase: "agent", reached: [`(1 hidden: ${note})`], refused: [] }]);
  assert.deepEqual(hidden.policy.refusals, [{ rule: "modes", reason: null }]);
});
