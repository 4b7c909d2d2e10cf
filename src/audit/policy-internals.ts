// What of a run's transcript is the org's business only. On a public repository anyone may read
// a run, and its transcript would tell them how the org is set up: the effective settings with
// their sources, allowlisted internal hosts and pinned addresses, secret names, budgets, who may
// start work. People who are not members of the org get the transcript without these: a policy
// decision keeps its rule and outcome, a network event its host only when the agent tried it on
// its own or a public preset (a package registry) allowed it.
import type { RunSummary } from "./summary.ts";

/** Keys of a policy decision that say what happened, not how the org is set up. */
const publicDecisionKeys: ReadonlySet<string> = new Set([
  "rule", "decision", "phase", "key", "mode", "command", "via", "author", "role", "reply", "by", "commit",
  "paths", "count", "text_hash", "comments", "files", "required", "missing", "working",
]);

export function policyHiddenNote(org: string): string {
  return `the org's policy details are shown to members of ${org}`;
}

export function withoutPolicyInternals<E extends { kind: string; payload: Record<string, unknown> }>(e: E, org: string): E {
  const p = e.payload;
  if (e.kind === "policy_decision") {
    const kept = Object.fromEntries(Object.entries(p).filter(([k]) => publicDecisionKeys.has(k)));
    return Object.keys(kept).length === Object.keys(p).length ? e : { ...e, payload: { ...kept, redacted: policyHiddenNote(org) } };
  }
  if (e.kind === "network") {
    // The proxy's reason names the allowlist entry that matched and where it came from.
    const reason = typeof p["reason"] === "string" ? p["reason"] : "";
    const fromPreset = /^"[^"]*" matches "[^"]*" \(preset [a-z0-9_-]+\)/.test(reason);
    const host = p["allowed"] === true && !fromPreset ? "(a host the org's policy lists)" : p["host"];
    return { ...e, payload: { ...p, host, reason: policyHiddenNote(org) } };
  }
  return e;
}

/**
 * A summary kept after retention reduced the events, for a non-member: without the reasons of
 * policy decisions, and without the hosts reached (which of them the org's own list allowed can
 * no longer be told).
 */
export function summaryWithoutPolicyInternals(s: RunSummary, org: string): RunSummary {
  return {
    ...s,
    network: s.network.map((n) => ({ ...n, reached: n.reached.length ? [`(${n.reached.length} hidden: ${policyHiddenNote(org)})`] : [] })),
    policy: { refusals: s.policy.refusals.map((r) => ({ ...r, reason: null })), adjustments: s.policy.adjustments.map((a) => ({ ...a, reason: null })) },
  };
}
