// Settles `bosun/independent-review` when a review arrives: an approval counts only from
// someone other than the person who asked for the run, with write access.
import { checkNames, upsertCheckRun } from "./check-runs.ts";
import type { GitHubClient } from "./tokens.ts";
import type { Run } from "../runs/run.ts";
import { hasWriteAccess } from "../policy/who-may-start.ts";


export interface ReviewDecision { satisfied: boolean; reason: string }

export async function decideIndependentReview(octokit: GitHubClient, run: Run): Promise<ReviewDecision> {
  if (!run.prNumber) return { satisfied: false, reason: "no pull request yet" };
  const reviews = await octokit.paginate(octokit.rest.pulls.listReviews, { owner: run.owner, repo: run.repo, pull_number: run.prNumber, per_page: 100 });
  const latest = new Map<string, string>();
  for (const r of reviews) if (r.user && r.state !== "COMMENTED") latest.set(r.user.login, r.state);
  const approvers = [...latest].filter(([, state]) => state === "APPROVED").map(([login]) => login);
  for (const login of approvers) {
    if (login.toLowerCase() === run.requestedBy.toLowerCase() || login.endsWith("[bot]")) continue;
    const perm = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: login });
    if (hasWriteAccess(perm.data.role_name)) return { satisfied: true, reason: `@${login} (${perm.data.role_name}) approved; they did not ask for this run.` };
  }
  if (approvers.some((a) => a.toLowerCase() === run.requestedBy.toLowerCase())) {
    return { satisfied: false, reason: `@${run.requestedBy} approved, but they asked for this run, so their approval alone does not count. Another person with write access must approve.` };
  }
  return { satisfied: false, reason: `@${run.requestedBy} asked for this change, so their approval alone does not count. Another person with write access must approve this pull request.` };
}

export async function settleIndependentReview(octokit: GitHubClient, run: Run): Promise<ReviewDecision> {
  const decision = await decideIndependentReview(octokit, run);
  if (!run.headSha) return decision;
  await upsertCheckRun(octokit, {
    owner: run.owner, repo: run.repo, headSha: run.headSha, name: checkNames.independentReview, externalId: `${run.id}:independent-review`, knownId: run.reviewCheckRunId,
    fields: decision.satisfied
      ? { status: "completed", conclusion: "success", title: "Independently approved", summary: decision.reason }
      : { status: "in_progress", title: "Waiting for an independent approval", summary: decision.reason },
  });
  return decision;
}
