// The merge gate's one writer: both check runs (`bosun` and `bosun/independent-review`) and the
// pull request's draft state are decided here from recorded facts (the run's, the pull request's
// reviews and head, the base branch's protection) and written here. Publishing calls it after a
// push; a recorded review or push calls it through the command loop. Webhook handlers only record.
import type { Transcript } from "../audit/transcript.ts";
import { checkNames, upsertCheckRun } from "../github/check-runs.ts";
import { setDraft } from "../github/pull-request.ts";
import type { GitHubClient } from "../github/tokens.ts";
import type { Person, Run } from "../runs/run.ts";
import { decideIndependentReview, type ReviewDecision } from "./independent-review.ts";
import { checkProtectionGate, type GateResult } from "./protection.ts";
import { readiness, type Readiness } from "./readiness.ts";

export interface GateOutcome {
  head: string;
  /** Someone pushed after Bosun's verified commit: Bosun's tests did not run on the head. */
  headMoved: boolean;
  gateMissing: string[];
  ready: Readiness;
  review: ReviewDecision;
  draft: boolean;
  checkRunId: number;
  reviewCheckRunId: number;
}

export interface GateInput {
  appId: number;
  /** The run that published the pull request's latest Bosun commit. */
  run: Run;
  /** Everyone who asked for a run on this pull request. */
  requesters: Person[];
  /** People who pushed to its branch. */
  pushers: Person[];
  transcript: Transcript;
  /** Branch protection read already by the caller (publish reads it once for the body too). */
  protection?: GateResult;
  /** The pull request, when the caller has just read it. */
  pull?: PullRequest;
}

type PullRequest = Awaited<ReturnType<GitHubClient["rest"]["pulls"]["get"]>>["data"];

export async function applyGate(octokit: GitHubClient, g: GateInput): Promise<GateOutcome> {
  const { run } = g;
  if (!run.prNumber || !run.headSha) throw new Error("[bosun/gate] the run has no pull request yet");
  const target = { owner: run.owner, repo: run.repo };
  const pr = g.pull ?? (await octokit.rest.pulls.get({ ...target, pull_number: run.prNumber })).data;
  const head = pr.head.sha;
  const headMoved = head !== run.headSha;
  const protection = g.protection ?? await checkProtectionGate(octokit, { ...target, branch: pr.base.ref, appId: g.appId });
  const gateRequired = run.facts.policy?.rules.require_protection_gate ?? true;
  const ready = readiness({ ...run, facts: { ...run.facts, gateMissing: protection.missing } });
  await g.transcript.append("policy_decision", { rule: "base branch protection gate", required: gateRequired, decision: protection.ok || !gateRequired ? "ready" : "draft", missing: protection.missing });

  const testsFields = headMoved
    ? {
      status: "in_progress" as const, title: `Bosun has not checked ${head.slice(0, 7)}`,
      summary: `Bosun verified ${run.headSha.slice(0, 7)}; ${head.slice(0, 7)} was pushed on top of it${g.pushers.length ? ` (by ${g.pushers.map((p) => `@${p.login}`).join(", ")})` : ""}, and Bosun's tests have not run on it. Comment \`/bosun <instructions>\` on this pull request to have Bosun work from the branch as it stands and check the result.`,
    }
    : ready.check;
  const checkRunId = await upsertCheckRun(octokit, {
    ...target, headSha: head, name: checkNames.tests, externalId: `${run.id}:tests`, knownId: headMoved ? null : run.checkRunId, fields: testsFields,
  });

  const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, { ...target, pull_number: run.prNumber, per_page: 100 });
  const roles = new Map<string, string>();
  const review = await decideIndependentReview(
    reviews.map((r) => ({ user: r.user?.login ?? null, userId: r.user?.id ?? null, state: r.state, commitId: r.commit_id ?? null })),
    {
      head, requesters: g.requesters, pushers: g.pushers,
      roleOf: async (login) => roles.get(login) ?? (await octokit.rest.repos.getCollaboratorPermissionLevel({ ...target, username: login })).data.role_name,
    },
  );
  const reviewCheckRunId = await upsertCheckRun(octokit, {
    ...target, headSha: head, name: checkNames.independentReview, externalId: `${run.id}:independent-review`, knownId: headMoved ? null : run.reviewCheckRunId,
    fields: review.satisfied
      ? { status: "completed", conclusion: "success", title: "Independently approved", summary: review.reason }
      : { status: "in_progress", title: "Waiting for an independent approval of the head commit", summary: review.reason },
  });
  await g.transcript.append("check_run", { name: checkNames.tests, id: checkRunId, head, ...(headMoved ? { status: "in_progress" } : { conclusion: ready.check.conclusion ?? null }), title: testsFields.title });
  await g.transcript.append("check_run", { name: checkNames.independentReview, id: reviewCheckRunId, head, status: review.satisfied ? "completed" : "in_progress", reason: review.reason });

  // A blocker makes it a draft; with none, it leaves draft, unless the repository asks for drafts
  // (then people mark it ready, and a review must not turn it back). A head Bosun did not verify
  // keeps whatever draft state people gave it.
  const current = pr.draft ?? false;
  const wanted = headMoved ? current : ready.blockers.length ? true : run.facts.policy?.draft ? current : false;
  const draft = pr.state === "open" ? await setDraft(octokit, { nodeId: pr.node_id, draft: current }, wanted) : current;
  return { head, headMoved, gateMissing: protection.missing, ready, review, draft, checkRunId, reviewCheckRunId };
}
