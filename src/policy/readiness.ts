// Whether Bosun's pull request may leave draft, and what its `bosun` check says. One place
// decides it, from the run's facts, so publishing and `/bosun approve` on the pull request always
// agree. The `bosun` check is the one branch protection requires (pinned to Bosun's app), so
// anything listed here as blocking also blocks merging.
import { minimatch } from "minimatch";
import type { CheckFields } from "../github/check-runs.ts";
import { fence } from "../github/markdown.ts";
import type { Run } from "../runs/run.ts";

/** Changed files that match the policy's protected paths. */
export function protectedChanges(paths: string[], globs: string[]): string[] {
  return paths.filter((p) => globs.some((g) => minimatch(p, g, { dot: true })));
}

export interface Readiness {
  /** null: no test command. */
  testsPassed: boolean | null;
  /** Protected files changed and not yet approved for this commit. */
  protectedWaiting: string[];
  /** What keeps the `bosun` check failing, in words for the check's title and the outcome. */
  blockers: string[];
  draft: boolean;
  check: CheckFields;
}

export function readiness(run: Run): Readiness {
  const f = run.facts;
  const policy = f.policy;
  const testsPassed = f.testCommand ? f.testExitCode === 0 && !f.testTimedOut : null;
  const gateMissing = f.gateMissing ?? [];
  const gateRequired = policy?.rules.require_protection_gate ?? true;
  const changed = f.protectedChanges ?? [];
  const approved = f.protectedApproval && f.protectedApproval.sha === f.commitSha ? f.protectedApproval : null;
  const protectedWaiting = approved ? [] : changed;

  const blockers: string[] = [];
  if (testsPassed === false) blockers.push("Tests failed");
  if (protectedWaiting.length) blockers.push("Changes protected paths; waiting for `/bosun approve`");
  if (gateMissing.length && gateRequired) blockers.push("Branch protection is missing settings");

  const summary: string[] = [];
  if (testsPassed === null) summary.push("No test command is configured; Bosun ran no tests.");
  else summary.push(`\`${f.testCommand ?? ""}\` ${testsPassed ? "passed" : "failed"} on ${(f.commitSha ?? "").slice(0, 7)}.`);
  if (protectedWaiting.length) {
    summary.push(`This change touches paths the org's policy protects:\n${protectedWaiting.map((p) => `- \`${p}\``).join("\n")}\n\nSomeone the policy lets start work, with write access, must comment \`/bosun approve\` on this pull request before it can leave draft.`);
  } else if (approved) {
    summary.push(`@${approved.by} approved the change to protected paths (${changed.map((p) => `\`${p}\``).join(", ")}) with \`/bosun approve\`.`);
  }
  if (gateMissing.length) {
    summary.push(`${gateRequired ? "Bosun keeps this pull request a draft until the base branch's protection has these settings" : "The base branch's protection is missing these settings (the org's policy does not require them)"}:\n${gateMissing.map((m) => `- ${m}`).join("\n")}`);
  }
  const title = blockers.length ? blockers.join("; ")
    : testsPassed === null ? (approved ? "No test command configured; protected paths approved" : "No test command configured")
    : approved ? "Tests passed; protected paths approved" : "Tests passed";
  return {
    testsPassed, protectedWaiting, blockers,
    draft: blockers.length > 0 || (policy?.draft ?? false),
    check: {
      status: "completed", conclusion: blockers.length ? "failure" : "success", title, summary: summary.join("\n\n"),
      ...(f.testOutputTail ? { text: fence(f.testOutputTail) } : {}),
    },
  };
}
