// preparing → running: read the issue and the repository's settings, fetch the repository at
// the default branch's head, and put it into the run's workspace volume.
import { buildTask, type FollowUp } from "../../agents/task.ts";
import type { Iteration } from "../run.ts";
import { fileAtCommit, runGit } from "../../github/git.ts";
import { readRawFile } from "../../github/read-file.ts";
import { readRepositoryInstructions } from "../../agents/repository-instructions.ts";
import { hasWriteAccess } from "../../policy/who-may-start.ts";
import { RuntimeUnavailableError } from "../../sandbox/sandbox.ts";
import type { RunContext } from "../run-context.ts";
import { StepFailure } from "../step-failure.ts";
import { ensureCheckout } from "./checkout.ts";

interface IssueComment { user: { login: string; type?: string } | null; body?: string; created_at: string; performed_via_github_app?: { id: number } | null }


/**
 * Comments the agent may read: written before the label was added (a later comment was not
 * vouched for), by people with write access, and not Bosun's own. The rest are left out and the
 * transcript says whose.
 */
async function trustedComments<C extends IssueComment>(ctx: RunContext, all: C[]): Promise<C[]> {
  const { run } = ctx;
  const { octokit } = await ctx.tokens.get("fetch");
  const cutoff = run.facts.labelledAt ? new Date(run.facts.labelledAt) : run.createdAt;
  const roles = new Map<string, string>();
  const kept: C[] = [];
  const left: { author: string; reason: string }[] = [];
  for (const c of all) {
    const author = c.user?.login ?? "unknown";
    if (c.performed_via_github_app?.id === ctx.deps.appId) continue;
    if (new Date(c.created_at) > cutoff) { left.push({ author, reason: "written after the label was added" }); continue; }
    if (c.user?.type === "Bot") { left.push({ author, reason: "written by a bot" }); continue; }
    if (!roles.has(author)) {
      const perm = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: author }).catch(() => null);
      roles.set(author, perm?.data.role_name ?? "none");
    }
    if (!hasWriteAccess(roles.get(author) ?? "none")) { left.push({ author, reason: "written by someone without write access" }); continue; }
    kept.push(c);
  }
  if (left.length) await ctx.transcript.append("policy_decision", { rule: "issue comments the agent may read", decision: "left out", comments: left });
  return kept;
}

export async function prepare(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  const { octokit } = await ctx.tokens.get("fetch");
  const config = run.facts.config;
  const policy = ctx.policy;
  if (!config) throw new Error("[bosun/runs] the run reached prepare without its settings");
  const fetched = (await octokit.rest.issues.get({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber })).data;
  // An approved issue is handed over as it was approved, whatever was edited since.
  const issue = run.facts.approval ? { ...fetched, title: run.facts.approval.title, body: run.facts.approval.body } : fetched;
  const comments = await trustedComments(ctx, await octokit.paginate(octokit.rest.issues.listComments, { owner: run.owner, repo: run.repo, issue_number: run.issueNumber, per_page: 100 }));
  const followUp = run.facts.iteration ? await readFollowUp(ctx, run.facts.iteration) : undefined;

  const checkout = await ensureCheckout(ctx);
  const baseSha = (await runGit(checkout, ["rev-parse", "HEAD"])).trim();
  // Notes for agents as people merged them: the base commit, or for a follow-up (whose branch an
  // agent wrote) the pull request's base branch.
  const it = run.facts.iteration;
  const repositoryInstructions = run.facts.task?.repository_instructions ?? await readRepositoryInstructions(it
    ? (path) => readRawFile(octokit, { owner: run.owner, repo: run.repo, path, ref: it.base })
    : (path) => fileAtCommit(checkout, baseSha, path));
  if (repositoryInstructions.length) {
    await ctx.transcript.append("policy_decision", { rule: "repository instructions", decision: "given to the agent", files: repositoryInstructions.map((f) => ({ path: f.path, characters: f.text.length, truncated: f.truncated })) });
  }
  const task = buildTask({
    runId: run.id, repository: ctx.repoFullName, mode: run.mode, instructions: config.instructions, repositoryInstructions,
    testCommand: config.test.command, timeoutMinutes: policy.limits.agent_minutes, ...(followUp ? { followUp } : {}),
    issue: {
      number: issue.number, title: issue.title, author: issue.user?.login ?? "unknown", body: issue.body ?? null,
      comments: comments.map((c) => ({ author: c.user?.login ?? "unknown", body: c.body ?? null })),
    },
  });
  await ctx.update({ facts: { task, issueTitle: issue.title } });
  await ctx.transcript.append("prompt", { prompt: task.prompt, task });
  await ctx.tokens.revoke("fetch");
  await ctx.update({ baseSha });

  const { sandbox } = ctx.deps;
  try {
    await sandbox.ping();
    const { runtime } = ctx.sandboxSettings;
    if (runtime !== "runc") await sandbox.requireRuntime(runtime);
  } catch (e) {
    if (e instanceof RuntimeUnavailableError) {
      throw new StepFailure({ outcome: "This run must use the gVisor runtime (runsc), which the Docker host does not offer, so the agent did not start. Bosun does not fall back to runc; an operator must install and register runsc.", title: "Docker runtimes", detail: e.message });
    }
    throw e;
  }
  const image = policy.image;
  if (!(await sandbox.imageExists(image))) {
    const build = image === ctx.deps.env.BOSUN_UNIVERSAL_AGENT_IMAGE ? "Build Bosun's universal image with `bash docker/agent-universal/build.sh` (or `npm run setup`)"
      : image === ctx.deps.env.BOSUN_CLI_AGENT_IMAGE ? "Build Bosun's CLI agents' image with `bash docker/agent-clis/build.sh` (or `npm run setup`)"
      : "Build Bosun's agent base with `npm run setup` (docker/agent-base)";
    throw new StepFailure({ outcome: `The image \`${image}\` is not on the Docker host, so the agent did not start.`, title: "Image", detail: `${build}, or build the image on the Docker host.` });
  }
  await ctx.stepDone(`Fetched ${ctx.repoFullName} at \`${baseSha.slice(0, 7)}\` (${run.baseBranch ?? "default branch"})`);
  await ctx.moveTo("running");
}

/** What the reviewer asked for: the review's body and its inline comments (kept on the run, so publish can answer each). */
async function readFollowUp(ctx: RunContext, it: Iteration): Promise<FollowUp> {
  const { run } = ctx;
  let comments = it.comments;
  if (!comments) {
    comments = [];
    if (it.review) {
      const { octokit } = await ctx.tokens.get("readReviews");
      const listed = await octokit.paginate(octokit.rest.pulls.listCommentsForReview, { owner: run.owner, repo: run.repo, pull_number: it.pullNumber, review_id: it.review.id, per_page: 100 });
      comments = listed.map((c) => ({ id: c.id, path: c.path, line: c.line ?? c.original_line ?? null, body: c.body }));
      await ctx.tokens.revoke("readReviews");
    }
    await ctx.update({ facts: { iteration: { ...it, comments } } });
  }
  return {
    pull_request: it.pullNumber, branch: it.branch, requested_by: it.by, instructions: it.instructions,
    review: it.review ? { body: it.review.body ?? "", comments: comments.map(({ path, line, body }) => ({ path, line, body })) } : null,
  };
}
