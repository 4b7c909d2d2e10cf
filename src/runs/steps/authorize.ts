// queued → preparing | refused: only people with write access (and no bots) may start work.
import { findMarkedComment } from "../../github/progress-comment.ts";
import { loadOrgPolicy } from "../../config/load-org-policy.ts";
import { hasWriteAccess, mayStartWork, teamChecker } from "../../policy/who-may-start.ts";
import type { OrgPolicy } from "../../config/org-policy.ts";
import { describeProblems } from "../../config/repo-config.ts";
import type { RunContext } from "../run-context.ts";
import { StepFailure } from "../step-failure.ts";


/** The org policy, read once per run and kept on it. */
async function ensurePolicy(ctx: RunContext): Promise<OrgPolicy> {
  if (ctx.run.facts.policy) return ctx.run.facts.policy;
  const { run } = ctx;
  const loaded = await loadOrgPolicy({ app: ctx.deps.app, apiUrl: ctx.deps.env.GITHUB_API_URL, log: ctx.log, installationId: run.installationId, owner: run.owner, transcript: ctx.transcript, redactor: ctx.redactor });
  if (!loaded.ok) {
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: "valid org policy", problems: loaded.problems });
    throw new StepFailure({ outcome: "The org's Bosun policy is not valid, so Bosun did not start the agent. An org admin needs to fix it.", title: "Problems", detail: describeProblems(loaded.problems) });
  }
  await ctx.transcript.append("policy_decision", { rule: "org policy", decision: "applied", source: loaded.source, policy: loaded.policy });
  await ctx.update({ facts: { policy: loaded.policy } });
  ctx.learnSecrets();
  return loaded.policy;
}

/** A message with the figures when a daily budget is spent; null when there is room. */
async function budgetSpent(ctx: RunContext): Promise<string | null> {
  const { budgets } = await ensurePolicy(ctx);
  const { run, deps } = ctx;
  const checks: [number | undefined, () => Promise<number>, string][] = [
    [budgets.runs_per_day_per_repository, () => deps.store.countToday({ repoId: run.repoId, except: run.id }), ctx.repoFullName],
    [budgets.runs_per_day_per_org, () => deps.store.countToday({ owner: run.owner, except: run.id }), `the ${run.owner} org`],
  ];
  for (const [limit, count, what] of checks) {
    if (limit === undefined) continue;
    const used = await count();
    await ctx.transcript.append("policy_decision", { rule: "daily run budget", scope: what, limit, used, decision: used < limit ? "allowed" : "refused" });
    if (used >= limit) return `the daily budget of ${limit} run${limit === 1 ? "" : "s"} for ${what} is spent (${used} started today, UTC); it renews at midnight UTC, or an org admin can raise \`budgets\` in the org's policy.`;
  }
  return null;
}

export async function authorize(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  const { octokit } = await ctx.tokens.get("fetch");
  const policy = await ensurePolicy(ctx);
  const role = run.facts.requesterType === "Bot" ? "none"
    : (await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: run.requestedBy })).data.role_name;
  const decision = await mayStartWork({
    policy, login: run.requestedBy, accountType: run.facts.requesterType, role, repo: ctx.repoFullName, org: run.owner,
    isTeamMember: async (slug) => teamChecker((await ctx.tokens.get("membership")).octokit, run.owner, run.requestedBy)(slug),
  });
  await ctx.tokens.revoke("membership");
  let { allowed, reason } = decision;
  await ctx.transcript.append("policy_decision", { decision: allowed ? "allowed" : "refused", rule: "who may start work", reason });
  const report = (await ctx.tokens.get("report")).octokit;
  let hint = "A maintainer can add the label instead.";
  if (allowed) {
    const spent = await budgetSpent(ctx);
    if (spent) {
      allowed = false;
      reason = spent;
      hint = "";
    }
  }
  if (!allowed) {
    const marker = `<!-- bosun:refusal run=${run.id} -->`;
    if (!(await findMarkedComment(report, ctx.deps.appId, run, marker))) {
      await report.rest.issues.createComment({
        owner: run.owner, repo: run.repo, issue_number: run.issueNumber,
        body: `Bosun did not start: ${reason}${hint ? ` ${hint}` : ""}\n\n${marker}`,
      });
      await ctx.transcript.append("comment", { purpose: "refusal" });
    }
    await ctx.moveTo("refused", { outcome: reason });
    return;
  }
  await ctx.reportProgressOrNote();
  await report.rest.reactions.createForIssue({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber, content: "eyes" });
  await ctx.stepDone(`Checked that @${run.requestedBy} may assign work`);

  // Text written by someone without write access is untrusted: the agent does not read it until a
  // maintainer approves it with `/bosun approve`.
  if (!run.facts.approval) {
    const issue = (await octokit.rest.issues.get({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber })).data;
    const author = issue.user?.login ?? "unknown";
    const authorRole = author === run.requestedBy ? "labeller" : (await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: author }).catch(() => null))?.data.role_name ?? "none";
    if (authorRole !== "labeller" && !hasWriteAccess(authorRole)) {
      const reason = `the issue was written by @${author}, who has ${authorRole === "none" ? "no" : authorRole} access to ${ctx.repoFullName}`;
      await ctx.transcript.append("policy_decision", { decision: "awaiting approval", rule: "issue text from people without write access", reason });
      await ctx.moveTo("awaiting_approval", { outcome: `Waiting: ${reason}. The agent has not read it. A maintainer can comment \`/bosun approve\` to let the agent read the issue as it stands now.` });
      return;
    }
  }
  await ctx.moveTo("preparing");
}
