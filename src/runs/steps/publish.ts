// publishing → succeeded | failed: push bosun/<issue>-<slug>, open or update the pull request,
// post the check runs, request reviewers from CODEOWNERS, and apply the protection gate.
import { pushBranch, remoteBranchSha, runGit } from "../../github/git.ts";
import { summarizeStoredRun } from "../../audit/summary.ts";
import { branchName, renderPullRequestBody, upsertPullRequest, type NetworkSummary } from "../../github/pull-request.ts";
import { ownersOfFiles } from "../../policy/codeowners.ts";
import { applyGate } from "../../gate/apply-gate.ts";
import { pullRequestParties } from "../../gate/pull-request-parties.ts";
import { checkProtectionGate } from "../../gate/protection.ts";
import { pushApprovalNeeded } from "../../gate/push-approval.ts";
import { readiness } from "../../gate/readiness.ts";
import { requesterOf, samePerson } from "../run.ts";
import type { RunContext } from "../run-context.ts";
import type { RunContext as Ctx } from "../run-context.ts";
import { StepFailure } from "../step-failure.ts";
import { buildCommit } from "./verify.ts";
import { neutralize } from "../../github/markdown.ts";
import type { GitHubClient } from "../../github/tokens.ts";

/**
 * bosun/<issue>-<slug>, unless that branch already holds someone else's work (an earlier run on
 * the same issue, a person's commits): then the run's own suffix keeps both.
 */
async function chooseBranch(ctx: Ctx, checkout: string, url: string, token: string): Promise<string> {
  const { run } = ctx;
  const candidate = branchName(run.issueNumber, run.facts.issueTitle ?? "");
  const remote = await remoteBranchSha({ dir: checkout, url, token, branch: candidate });
  if (!remote) return candidate;
  await runGit(checkout, ["fetch", "--quiet", "--no-tags", url, `refs/heads/${candidate}`], { token });
  const message = await runGit(checkout, ["log", "-1", "--format=%B", "FETCH_HEAD"]);
  return message.includes(`Bosun-Run: ${run.id}`) ? candidate : `${candidate}-${run.id.slice(0, 8)}`;
}

/**
 * awaiting_push_approval → publishing, once someone approved the held commit: when the org's
 * concurrency limits leave room (a held run gave its place up while it waited).
 */
export async function releaseApproved(ctx: RunContext): Promise<void> {
  const hold = pushApprovalNeeded(ctx.run);
  if (hold.needed && !hold.approved) throw new Error(`[bosun/runs] the held run ${ctx.run.id} was claimed without an approval of ${ctx.run.facts.commitSha ?? "its commit"}`);
  const { runs_per_repository: perRepository, runs_per_org: perOrg } = ctx.policy.rules.concurrency;
  await ctx.moveToIfRoom("publishing", { perRepository, perOrg }, (busy) => perRepository !== null && busy.repository >= perRepository
    ? `approved; ${busy.repository} run${busy.repository === 1 ? " is" : "s are"} working on ${ctx.repoFullName} already, the most the org's policy allows at once; this one is published when one of them ends.`
    : `approved; ${busy.org} runs are working in the ${ctx.run.owner} org already, the most the org's policy allows at once; this one is published when one of them ends.`);
}

export async function publish(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  // Nothing the agent wrote reaches a GitHub ref (where workflows would run it with the
  // repository's secrets) without the approval it needs; verify holds the run until then.
  const hold = pushApprovalNeeded(run);
  if (hold.needed && !hold.approved) throw new Error(`[bosun/runs] publishing ${run.facts.commitSha ?? "(no commit)"} without the approval it needs: ${hold.reason}`);
  // A change under .github/workflows/ needs GitHub's `workflows` permission to be pushed at all;
  // every other change is pushed without it.
  const touchesWorkflows = (run.facts.changedFiles ?? []).some((f) => f.path.startsWith(".github/workflows/") || f.path === ".github/workflows" || f.path === ".github");
  const { octokit, token } = await ctx.tokens.get(touchesWorkflows ? "publishWorkflows" : "publish");
  const { checkout, sha } = await buildCommit(ctx);
  if (!sha || sha !== run.facts.commitSha) throw new Error(`[bosun/runs] the rebuilt commit ${sha ?? "(none)"} differs from the verified one ${run.facts.commitSha ?? "(none)"}`);
  const url = run.facts.cloneUrl ?? "";
  const branch = run.branch ?? (await chooseBranch(ctx, checkout, url, token));
  if (!run.branch) await ctx.update({ branch });
  const remote = await remoteBranchSha({ dir: checkout, url, token, branch });
  if (remote !== sha) {
    try {
      await pushBranch({ dir: checkout, url, token, branch, commit: sha });
    } catch (e) {
      if (/\[rejected\]|non-fast-forward|fetch first/.test(String(e))) {
        throw new StepFailure({
          outcome: `Someone pushed to \`${branch}\` while the agent worked, and Bosun never force-pushes, so the agent's commit was not pushed. Ask again (a review or \`/bosun <instructions>\` on the pull request) and the next run starts from the branch as it stands.`,
          title: "git push", detail: ctx.redactor.text(String(e)),
        });
      }
      if (/workflows?` permission/.test(String(e))) {
        throw new StepFailure({
          outcome: "The agent changed a workflow under `.github/workflows/`, and GitHub refused the push: this installation of Bosun has not been granted the `workflows` permission. An org owner can accept it in the app's installation settings.",
          title: "git push", detail: ctx.redactor.text(String(e)),
        });
      }
      throw e;
    }
    await ctx.transcript.append("push", { branch, commit: sha, previous: remote });
  }
  await ctx.update({ headSha: sha });
  await ctx.stepDone(`Pushed \`${branch}\``);

  // A follow-up's pull request merges into its own base; its head branch is the run's base branch.
  const base = run.facts.iteration?.base ?? run.baseBranch ?? "main";
  const protection = await checkProtectionGate(octokit, { owner: run.owner, repo: run.repo, branch: base, appId: ctx.deps.appId });
  const gateRequired = ctx.policy.rules.require_protection_gate;
  await ctx.update({ facts: { gateMissing: protection.missing } });
  const ready = readiness(ctx.run);
  const { testsPassed } = ready;
  // A squash merge makes the title a commit subject on the default branch, where a closing keyword acts.
  const title = neutralize(run.facts.iteration?.title ?? run.facts.prTitle ?? `Bosun: ${run.facts.issueTitle ?? `issue #${run.issueNumber}`}`);
  const body = ctx.redactor.text(renderPullRequestBody(ctx.run, { gateMissing: protection.missing, gateRequired, testsPassed, protectedWaiting: ready.protectedWaiting, network: await networkSummary(ctx) }));
  const pr = await upsertPullRequest(octokit, { owner: run.owner, repo: run.repo, head: branch, base, title, body, draft: ready.draft });
  await ctx.transcript.append("pull_request", { number: pr.number, url: pr.url, draft: pr.draft, created: pr.created, title });
  await ctx.update({ prNumber: pr.number, prUrl: pr.url });

  const parties = await pullRequestParties(ctx.deps.store, { owner: run.owner, repo: run.repo, pullNumber: pr.number });
  const requester = requesterOf(run);
  const requesters = parties.requesters.some((r) => samePerson(r, requester)) ? parties.requesters : [...parties.requesters, requester];
  const gate = await applyGate(octokit, { appId: ctx.deps.appId, run: ctx.run, transcript: ctx.transcript, protection, requesters, pushers: parties.pushers });
  await ctx.update({ checkRunId: gate.checkRunId, reviewCheckRunId: gate.reviewCheckRunId });

  const owners = await ownersOfFiles(checkout, run.baseSha ?? "HEAD", (run.facts.changedFiles ?? []).map((f) => f.path));
  const reviewers = owners.users.filter((u) => !requesters.some((r) => r.login.toLowerCase() === u.toLowerCase()) && !u.endsWith("[bot]"));
  if (reviewers.length || owners.teams.length) {
    await octokit.rest.pulls.requestReviewers({ owner: run.owner, repo: run.repo, pull_number: pr.number, reviewers, team_reviewers: owners.teams });
    await ctx.update({ facts: { reviewersRequested: [...reviewers, ...owners.teams.map((t) => `${run.owner}/${t}`)] } });
  }
  if (run.facts.iteration) await answerReview(ctx, octokit, pr.number, sha);
  const labels = run.facts.config?.pull_request.labels ?? ["bosun"];
  if (labels.length) await octokit.rest.issues.addLabels({ owner: run.owner, repo: run.repo, issue_number: pr.number, labels });
  await ctx.stepDone(`${pr.created ? "Opened" : "Updated"} pull request #${pr.number}${gate.draft ? " (draft)" : ""}`);

  const approvedBy = run.facts.pushApproval?.sha === sha ? ` @${run.facts.pushApproval.by} approved the change before it was pushed.` : "";
  if (testsPassed === false) {
    await ctx.moveTo("failed", { outcome: `The tests failed on the agent's change. Pull request ${pr.url} is open as a draft with a failing check, so people can look.${approvedBy}` });
  } else if (gate.draft) {
    await ctx.moveTo("succeeded", { outcome: `${ready.blockers.length ? `Pull request ${pr.url} is open as a draft: the base branch's protection is missing settings (see the \`bosun\` check).` : `Pull request ${pr.url} is open as a draft, as \`.github/bosun.yml\` asks; mark it ready for review when you are.`}${approvedBy}` });
  } else {
    await ctx.moveTo("succeeded", { outcome: `Pull request ${pr.url} is ready for review.${approvedBy} It needs an approval of its head commit from someone with write access who did not ask for it (not ${requesters.map((r) => `@${r.login}`).join(", ")}).` });
  }
}

/** Hosts each phase reached and was refused, from the run's `network` events (read a page at a time). */
async function networkSummary(ctx: Ctx): Promise<NetworkSummary[]> {
  return (await summarizeStoredRun(ctx.deps.pool, ctx.run, { kinds: ["network"] })).network;
}

/**
 * A follow-up answers where it was asked: a reply in each review thread it addressed (once: a
 * repeated step finds its replies by their marker), and a `review` event with the outcome.
 */
async function answerReview(ctx: Ctx, octokit: GitHubClient, pullNumber: number, sha: string): Promise<void> {
  const { run } = ctx;
  const it = run.facts.iteration;
  if (!it) return;
  const replied = new Set(run.facts.iterationReplies ?? []);
  const summary = run.facts.summary ? neutralize(run.facts.summary.split("\n\n")[0] ?? "") : "";
  for (const c of it.comments ?? []) {
    if (replied.has(c.id)) continue;
    const body = ctx.redactor.text(`Addressed in ${sha.slice(0, 7)}${summary ? `: ${summary}` : "."}\n\n<!-- bosun:reply run=${run.id} comment=${c.id} -->`);
    await octokit.rest.pulls.createReplyForReviewComment({ owner: run.owner, repo: run.repo, pull_number: pullNumber, comment_id: c.id, body });
    replied.add(c.id);
    await ctx.update({ facts: { iterationReplies: [...replied] } });
  }
  await ctx.transcript.append("review", {
    reviewer: it.by, review_id: it.review?.id ?? null, decision: "addressed", commit: sha,
    comments: (it.comments ?? []).map((c) => ({ id: c.id, path: c.path, line: c.line })), instructions: it.instructions,
  });
}
