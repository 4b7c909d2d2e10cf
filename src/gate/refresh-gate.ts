// The merge gate looks again after a review or a push that a webhook recorded: it learns who
// pushed, then applyGate rewrites both checks and the draft state from the facts. Idempotent, so a
// redelivered or retried event simply settles the same answer.
import { Redactor } from "../audit/redactor.ts";
import { Transcript } from "../audit/transcript.ts";
import { TokenBroker } from "../github/tokens.ts";
import type { StoredCommand } from "../runs/command-store.ts";
import type { RunDeps } from "../runs/run-context.ts";
import { applyGate } from "./apply-gate.ts";
import { pullRequestParties } from "./pull-request-parties.ts";

/** What the webhook handler stores with `gate:review` and `gate:push` (as the command's args). */
export interface RecordedGateEvent {
  review?: { id: number; user: string | null; state: string; commit: string | null };
  push?: { by: string; byType: string; before: string; after: string; branch: string };
}

export async function refreshGate(deps: RunDeps, cmd: StoredCommand): Promise<string> {
  const event = JSON.parse(cmd.args || "{}") as RecordedGateEvent;
  const parties = await pullRequestParties(deps.store, { owner: cmd.owner, repo: cmd.repo, pullNumber: cmd.issueNumber });
  let run = parties.published;
  if (!run) return "no Bosun run published this pull request";
  const redactor = new Redactor();
  const transcript = new Transcript(deps.pool, run.id, redactor);
  const push = event.push;
  // Bosun's own push: the run publishing it applies the gate itself, with its own check runs.
  if (push && parties.bosunCommits.includes(push.after)) return `Bosun pushed ${push.after.slice(0, 7)} itself`;
  // A person's push: they may not be its independent reviewer (Bosun's own pushes are the app's).
  if (push && push.byType !== "Bot" && !parties.pushers.some((p) => p.toLowerCase() === push.by.toLowerCase())) {
    parties.pushers.push(push.by);
    run = (await deps.store.amendFacts(run.id, { pushers: [...(run.facts.pushers ?? []), push.by] })) ?? run;
  }
  const tokens = new TokenBroker({
    app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, transcript, redactor,
    target: { installationId: cmd.installationId, repoId: cmd.repoId, repoFullName: `${cmd.owner}/${cmd.repo}` },
  });
  try {
    const { octokit } = await tokens.get("gate");
    const requesters = parties.requesters.length ? parties.requesters : [run.requestedBy];
    const outcome = await applyGate(octokit, { appId: deps.appId, run, requesters, pushers: parties.pushers, transcript });
    const independent = outcome.review.satisfied ? "satisfied" : "waiting";
    if (event.review) {
      await transcript.append("review", { reviewer: event.review.user, state: event.review.state, commit: event.review.commit, head: outcome.head, independent_review: independent, reason: outcome.review.reason });
    }
    if (push) {
      await transcript.append("review", { decision: "new push", reviewer: null, by: push.by, branch: push.branch, commit: push.after, previous: push.before, head_moved: outcome.headMoved, independent_review: independent, reason: outcome.review.reason });
    }
    await deps.store.amendFacts(run.id, { gateMissing: outcome.gateMissing });
    return outcome.review.reason;
  } finally {
    await tokens.revokeAll();
  }
}
