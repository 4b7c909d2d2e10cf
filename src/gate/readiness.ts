// Whether Bosun's pull request may leave draft, and what its `bosun` check says, decided from the
// run's facts alone (src/gate/apply-gate.ts writes it). The `bosun` check is the one branch protection requires (pinned to Bosun's app), so
// anything listed here as blocking also blocks merging.
import type { CheckFields } from "../github/check-runs.ts";
import { fence } from "../github/markdown.ts";
import { pushApproved, type Run } from "../runs/run.ts";
import { listPaths } from "./push-approval.ts";

export interface Readiness {
  /** null: no test command. */
  testsPassed: boolean | null;
  /** Protected files changed and not approved for this commit (publishing holds them back). */
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
  const approved = pushApproved(f) ? f.pushApproval ?? null : null;
  const protectedWaiting = approved ? [] : changed;

  const blockers: string[] = [];
  if (testsPassed === false) blockers.push("Tests failed");
  if (protectedWaiting.length) blockers.push("Changes protected paths that nobody approved");
  if (gateMissing.length && gateRequired) blockers.push("Branch protection is missing settings");

  const summary: string[] = [];
  if (testsPassed === null) summary.push("No test command is configured; Bosun ran no tests.");
  else summary.push(`\`${f.testCommand ?? ""}\` ${testsPassed ? "passed" : "failed"} on ${(f.commitSha ?? "").slice(0, 7)}.${setupSentence(f.testSetup)}`);
  if (protectedWaiting.length) {
    summary.push(`This change touches paths the org's policy protects, and nobody other than the requester approved it:\n${protectedWaiting.slice(0, 50).map((p) => `- \`${p}\``).join("\n")}${protectedWaiting.length > 50 ? `\n- and ${protectedWaiting.length - 50} more` : ""}`);
  } else if (approved && changed.length) {
    summary.push(`@${approved.by} approved the change to protected paths (${listPaths(changed)}) in ${(f.commitSha ?? "").slice(0, 7)} with \`/bosun approve\` before it was pushed.`);
  } else if (approved) {
    summary.push(`@${approved.by} approved pushing ${(f.commitSha ?? "").slice(0, 7)} with \`/bosun approve\`.`);
  }
  if (gateMissing.length) {
    summary.push(`${gateRequired ? "Bosun keeps this pull request a draft until the base branch's protection has these settings" : "The base branch's protection is missing these settings (the org's policy does not require them)"}:\n${gateMissing.map((m) => `- ${m}`).join("\n")}`);
  }
  const title = blockers.length ? blockers.join("; ")
    : testsPassed === null ? (approved && changed.length ? "No test command configured; protected paths approved" : "No test command configured")
    : approved && changed.length ? "Tests passed; protected paths approved" : "Tests passed";
  return {
    testsPassed, protectedWaiting, blockers,
    draft: blockers.length > 0 || (policy?.draft ?? false),
    check: {
      status: "completed", conclusion: blockers.length ? "failure" : "success", title, summary: summary.join("\n\n"),
      ...(f.testOutputTail || f.testSetup?.tail ? { text: checkText(f) } : {}),
    },
  };
}

/** How the tests' sandbox was set up, for the check's summary. */
function setupSentence(setup: Run["facts"]["testSetup"]): string {
  if (!setup) return "";
  return setup.cached
    ? ` Its setup came from the setup cache in ${setup.seconds} s (\`${setup.command}\` did not need to run).`
    : ` Setup \`${setup.command}\` ran first, in ${setup.seconds} s.`;
}

/** The setup's last lines (when it ran), then the tests'. */
function checkText(f: Run["facts"]): string {
  const setup = f.testSetup?.tail ? `Setup \`${f.testSetup.command}\`:\n\n${fence(f.testSetup.tail)}\n\n` : "";
  return `${setup}${f.testOutputTail ? `${setup ? "Tests:\n\n" : ""}${fence(f.testOutputTail)}` : ""}`;
}
