// The merge gate looks again after a review or a push that a webhook recorded: it learns who
// pushed, then applyGate rewrites both checks and the draft state from the facts. Idempotent, so a
// redelivered or retried event simply settles the same answer; one pull request's refreshes run
// one at a time (replicas handle commands at once), so a later answer never overwrites a newer one
// with an older view.
import { Redactor } from "../audit/redactor.ts";
import { Transcript } from "../audit/transcript.ts";
import { TokenBroker } from "../github/tokens.ts";
import { requesterOf, samePerson, type Person } from "../runs/run.ts";
import type { StoredCommand } from "../runs/command-store.ts";
import type { RunDeps } from "../runs/run-context.ts";
import { applyGate } from "./apply-gate.ts";
import { pullRequestParties } from "./pull-request-parties.ts";

/** What the webhook handler stores with `gate:review` and `gate:push` (as the command's args). */
export interface RecordedGateEvent {
  review?: { id: number; user: string | null; userId?: number | null; state: string; commit: string | null };
  push?: { by: string; byId?: number | null; byType: string; before: string; after: string; branch: string };
}

export async function refreshGate(deps: RunDeps, cmd: StoredCommand): Promise<string> {
  const event = JSON.parse(cmd.args || "{}") as RecordedGateEvent;
  const client = await deps.pool.connect();
  try {
    // One refresh per pull request at a time, across replicas (released with the session lock below).
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [`bosun-gate:${cmd.repoId}:${cmd.issueNumber}`]);
    return await refreshLocked(deps, cmd, event);
  } finally {
    await client.query("SELECT pg_advisory_unlock(hashtext($1))", [`bosun-gate:${cmd.repoId}:${cmd.issueNumber}`]).catch(() => undefined);
    client.release();
  }
}

async function refreshLocked(deps: RunDeps, cmd: StoredCommand, event: RecordedGateEvent): Promise<string> {
  const parties = await pullRequestParties(deps.store, { owner: cmd.owner, repo: cmd.repo, pullNumber: cmd.issueNumber });
  let run = parties.published;
  if (!run) return "no Bosun run published this pull request";
  const push = event.push;
  // Bosun's own push: the run publishing it applies the gate itself, with its own check runs.
  if (push && parties.bosunCommits.includes(push.after)) return `Bosun pushed ${push.after.slice(0, 7)} itself`;
  const redactor = new Redactor();
  const transcript = new Transcript(deps.pool, run.id, redactor);
  // A person's push: they may not be its independent reviewer (Bosun's own pushes are the app's).
  const pusher: Person | null = push && push.byType !== "Bot" ? { login: push.by, id: push.byId ?? null } : null;
  if (pusher && !parties.pushers.some((p) => samePerson(p, pusher))) {
    parties.pushers.push(pusher);
    run = (await deps.store.addPusher(run.id, pusher)) ?? run;
  }
  const tokens = new TokenBroker({
    app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, transcript, redactor,
    target: { installationId: cmd.installationId, repoId: cmd.repoId, repoFullName: `${cmd.owner}/${cmd.repo}` },
  });
  try {
    const { octokit } = await tokens.get("gate");
    // A head Bosun verified but has not finished publishing (a follow-up between its push and its
    // pull request update): that run applies the gate itself, as its own run.
    const pull = (await octokit.rest.pulls.get({ owner: cmd.owner, repo: cmd.repo, pull_number: cmd.issueNumber })).data;
    const head = pull.head.sha;
    if (head !== run.headSha && parties.bosunCommits.includes(head)) return `Bosun is publishing ${head.slice(0, 7)}; it settles the gate itself`;
    const requesters = parties.requesters.length ? parties.requesters : [requesterOf(run)];
    const outcome = await applyGate(octokit, { appId: deps.appId, run, requesters, pushers: parties.pushers, transcript, pull });
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
