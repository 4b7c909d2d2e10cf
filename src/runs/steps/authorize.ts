// queued → preparing | refused: only people with write access (and no bots) may start work.
import { findMarkedComment } from "../../github/progress-comment.ts";
import type { RunContext } from "../run-context.ts";

const allowedRoles = new Set(["admin", "maintain", "write"]);

export async function authorize(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  const { octokit } = await ctx.tokens.get("fetch");
  let allowed: boolean;
  let reason: string;
  if (run.facts.requesterType === "Bot") {
    allowed = false;
    reason = `@${run.requestedBy} is a bot; Bosun only takes work from people.`;
  } else {
    const perm = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: run.requestedBy });
    const role = perm.data.role_name;
    allowed = allowedRoles.has(role);
    reason = allowed
      ? `@${run.requestedBy} has ${role} access to ${ctx.repoFullName}.`
      : `@${run.requestedBy} has ${role === "none" ? "no" : role} access to ${ctx.repoFullName}; assigning work to Bosun needs write, maintain or admin.`;
  }
  await ctx.transcript.append("policy_decision", { decision: allowed ? "allowed" : "refused", rule: "who may start work", reason });
  const report = (await ctx.tokens.get("report")).octokit;
  if (!allowed) {
    const marker = `<!-- bosun:refusal run=${run.id} -->`;
    if (!(await findMarkedComment(report, ctx.deps.appId, run, marker))) {
      await report.rest.issues.createComment({
        owner: run.owner, repo: run.repo, issue_number: run.issueNumber,
        body: `Bosun did not start: ${reason} A maintainer can add the label instead.\n\n${marker}`,
      });
      await ctx.transcript.append("comment", { purpose: "refusal" });
    }
    await ctx.moveTo("refused", { outcome: reason });
    return;
  }
  await report.rest.reactions.createForIssue({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber, content: "eyes" });
  await ctx.stepDone(`Checked that @${run.requestedBy} may assign work`);

  // Text written by someone without write access is untrusted: the agent does not read it until a
  // maintainer approves it with `/bosun approve`.
  if (!run.facts.approval) {
    const issue = (await octokit.rest.issues.get({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber })).data;
    const author = issue.user?.login ?? "unknown";
    const authorRole = author === run.requestedBy ? "labeller" : (await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: author }).catch(() => null))?.data.role_name ?? "none";
    if (authorRole !== "labeller" && !allowedRoles.has(authorRole)) {
      const reason = `the issue was written by @${author}, who has ${authorRole === "none" ? "no" : authorRole} access to ${ctx.repoFullName}`;
      await ctx.transcript.append("policy_decision", { decision: "awaiting approval", rule: "issue text from people without write access", reason });
      await ctx.moveTo("awaiting_approval", { outcome: `Waiting: ${reason}. The agent has not read it. A maintainer can comment \`/bosun approve\` to let the agent read the issue as it stands now.` });
      return;
    }
  }
  await ctx.moveTo("preparing");
}
