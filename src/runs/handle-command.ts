// Carries out one `/bosun` command and answers it on the issue or pull request. Commands come
// only from people with write access; every command and refusal is in the run's transcript.
import { Redactor } from "../audit/redactor.ts";
import { Transcript } from "../audit/transcript.ts";
import { loadOrgPolicy, type LoadedPolicy } from "../config/load-org-policy.ts";
import type { ResolvedRules } from "../config/org-policy.ts";
import { operatorSettings, orgRulesFor } from "../policy/effective-policy.ts";
import { policyForRepository } from "../policy/policy-for-repository.ts";
import { describeEffectivePolicy } from "../policy/describe-policy.ts";
import { readRawFile } from "../github/read-file.ts";
import { hasWriteAccess, mayStartWork, teamChecker } from "../policy/who-may-start.ts";
import { repoConfigPath } from "../config/repo-config.ts";
import { findMarkedComment, renderProgress, upsertProgressComment } from "../github/progress-comment.ts";
import { TokenBroker, type GitHubClient } from "../github/tokens.ts";
import { listPaths, pushApprovalRefusal } from "../gate/push-approval.ts";
import { refreshGate } from "../gate/refresh-gate.ts";
import { approvalHash } from "../policy/approval-text.ts";
import { commandHelp, isGateEvent } from "./commands.ts";
import type { StoredCommand } from "./command-store.ts";
import { followUpOf, isTerminal, type Run } from "./run.ts";
import type { RunDeps } from "./run-context.ts";

/** Associations that may carry a role on the repository; any other commenter (NONE, CONTRIBUTOR, FIRST_TIMER, …) has at most read access. */
const insiders = new Set(["OWNER", "MEMBER", "COLLABORATOR"]);

/**
 * Refusals of outsiders' commands this process decided with a token (an issue without a run: the
 * org's policy had to be read), by repository and login, for ten minutes: the next ones cost none.
 */
export class RefusalMemo {
  readonly #until = new Map<string, { reason: string; until: number }>();
  static readonly ttlMs = 10 * 60_000;
  get(cmd: StoredCommand): string | null {
    const m = this.#until.get(`${cmd.repoId}:${cmd.author.toLowerCase()}`);
    return m && m.until > Date.now() ? m.reason : null;
  }
  set(cmd: StoredCommand, reason: string): void {
    if (this.#until.size > 10_000) this.#until.clear();
    this.#until.set(`${cmd.repoId}:${cmd.author.toLowerCase()}`, { reason, until: Date.now() + RefusalMemo.ttlMs });
  }
}

/** A comment by someone who, by GitHub's author_association, is no collaborator or member of the repository's org. */
export function isOutsider(cmd: StoredCommand): boolean {
  return cmd.via === "comment" && cmd.authorAssociation !== null && !insiders.has(cmd.authorAssociation);
}

/**
 * Why an outsider's command is refused, decided without a token: from the run's recorded policy
 * (an outsider can comment only on a public repository, so has read access there, and belongs to
 * none of the org's teams), or from a refusal this process decided lately. Null: ask GitHub.
 */
async function refusalWithoutToken(cmd: StoredCommand, run: Run | null, memo: RefusalMemo | undefined): Promise<string | null> {
  if (!isOutsider(cmd)) return null;
  const remembered = memo?.get(cmd);
  if (remembered) return remembered;
  const rules = run?.facts.policy?.rules;
  if (!rules) return null;
  const may = await mayStartWork({ rules, login: cmd.author, accountType: cmd.authorType, role: "read", repo: `${cmd.owner}/${cmd.repo}`, org: cmd.owner, isTeamMember: () => Promise.resolve(false) });
  return may.allowed ? null : may.reason;
}

export async function handleCommand(deps: RunDeps, cmd: StoredCommand, memo?: RefusalMemo): Promise<string> {
  // A review or a push Bosun recorded from a webhook: the merge gate looks again; nobody is answered.
  if (isGateEvent(cmd.verb)) return refreshGate(deps, cmd);
  const redactor = new Redactor();
  const runs = await deps.store.list({ owner: cmd.owner, repo: cmd.repo });
  // On an issue: its latest run. On Bosun's pull request: the latest run on it (a follow-up waiting there included).
  const run = [...runs].reverse().find((r) => r.issueNumber === cmd.issueNumber || r.prNumber === cmd.issueNumber || r.facts.iteration?.pullNumber === cmd.issueNumber) ?? null;
  const transcript = run ? new Transcript(deps.pool, run.id, redactor) : null;
  // A refused commenter is answered once an hour per issue; the rest of a flood costs no token and no write.
  const early = await refusalWithoutToken(cmd, run, memo);
  if (early !== null && !(await deps.commands.mayAnswerRefusal(cmd))) return unanswered(deps, cmd, refusalReply(early));
  let answeringRefusal = early !== null;
  const tokens = new TokenBroker({
    app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, transcript, redactor,
    target: { installationId: cmd.installationId, repoId: cmd.repoId, repoFullName: `${cmd.owner}/${cmd.repo}` },
  });
  // Read at most once per command: who may give it, and `/bosun policy`'s answer, use the same file.
  let org: Promise<LoadedPolicy> | null = null;
  const orgPolicy = (): Promise<LoadedPolicy> => (org ??= loadOrgPolicy({ app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, installationId: cmd.installationId, owner: cmd.owner, transcript: null, redactor: new Redactor() }));
  try {
    const { octokit } = await tokens.get("report");
    let reply: string;
    let decision: string;
    let role = "read";
    if (early !== null) {
      decision = "refused";
      reply = refusalReply(early);
    } else {
      const perm = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: cmd.owner, repo: cmd.repo, username: cmd.author });
      role = perm.data.role_name;
      // A command on an issue without a run: a broken policy falls back to Bosun's defaults (write access or more).
      let rules: ResolvedRules | undefined = run?.facts.policy?.rules;
      let unreadable: string | null = null;
      if (!rules) {
        const loaded = await orgPolicy();
        // An invalid policy falls back to Bosun's defaults here (they answer `/bosun policy`); one that
        // could not be read at all decides nothing.
        if (!loaded.ok && loaded.unreadable) unreadable = loaded.unreadable;
        rules = orgRulesFor(loaded.ok ? loaded.policy : null, cmd.repo).rules;
      }
      const may = unreadable ? { allowed: false, reason: "" } : await mayStartWork({
        rules, login: cmd.author, accountType: cmd.authorType, role, repo: `${cmd.owner}/${cmd.repo}`, org: cmd.owner,
        isTeamMember: async (slug) => teamChecker((await tokens.get("membership")).octokit, cmd.owner, cmd.author)(slug),
      });
      if (unreadable) {
        decision = "refused";
        reply = `Bosun could not read the org's policy (${unreadable}), so it does not act on commands here until it can. Try again shortly.`;
      } else if (!may.allowed) {
        decision = "refused";
        reply = refusalReply(may.reason);
        if (isOutsider(cmd)) memo?.set(cmd, may.reason);
        if (!(await deps.commands.mayAnswerRefusal(cmd))) return unanswered(deps, cmd, reply);
        answeringRefusal = true;
      } else {
        const published = [...runs].reverse().find((r) => r.prNumber === cmd.issueNumber) ?? null;
        ({ reply, decision } = await carryOut(deps, cmd, { run, published, transcript }, octokit, tokens, role, orgPolicy));
      }
    }
    // An approval of issue text is a review decision; everything else, refusals included, a policy decision.
    await transcript?.append(decision === "approved" ? "review" : "policy_decision", { rule: "commands", command: `/bosun ${cmd.verb}${cmd.args ? ` ${cmd.args}` : ""}`, via: cmd.via, author: cmd.author, role, decision, reply });
    const marker = `<!-- bosun:reply command=${cmd.id} -->`;
    // A button on the dashboard is answered where everyone else looks too: on the issue.
    const via = cmd.via === "dashboard" ? ` (\`${cmd.verb}\` on Bosun's dashboard)` : "";
    const body = redactor.text(`@${cmd.author}${via} ${reply}\n\n${marker}`);
    if (!(await findMarkedComment(octokit, deps.appId, { owner: cmd.owner, repo: cmd.repo, issueNumber: cmd.issueNumber }, marker))) {
      await octokit.rest.issues.createComment({ owner: cmd.owner, repo: cmd.repo, issue_number: cmd.issueNumber, body });
    }
    return reply;
  } catch (e) {
    // The one answer of the hour was not posted: the command's retry (or the next one) gives it.
    if (answeringRefusal) await deps.commands.forgetRefusal(cmd).catch(() => undefined);
    throw e;
  } finally {
    await tokens.revokeAll();
  }
}

function refusalReply(reason: string): string {
  return `Only people the org's policy lets start work can give Bosun commands: ${reason}`;
}

/** A refusal already answered on this issue within the hour: recorded with the command, not posted or put in the transcript again. */
function unanswered(deps: RunDeps, cmd: StoredCommand, reply: string): string {
  deps.log.info({ command: cmd.id, repo: `${cmd.owner}/${cmd.repo}`, issue: cmd.issueNumber, author: cmd.author }, `did not answer @${cmd.author}'s refused /bosun ${cmd.verb} on ${cmd.owner}/${cmd.repo}#${cmd.issueNumber}: they were answered there within the hour`);
  return `(not posted: answered within the hour) ${reply}`;
}

/**
 * `run`: the latest run of the issue or pull request; `published`: the latest run that published
 * the pull request the command is on (what a follow-up follows up).
 */
async function carryOut(deps: RunDeps, cmd: StoredCommand, on: { run: Run | null; published: Run | null; transcript: Transcript | null }, octokit: GitHubClient, tokens: TokenBroker, role: string, orgPolicy: () => Promise<LoadedPolicy>): Promise<{ reply: string; decision: string }> {
  const { run, published, transcript } = on;
  const active = run && !isTerminal(run.state) ? run : null;
  switch (cmd.verb) {
    case "status":
      return { decision: "answered", reply: run ? statusOf(run) : "There is no Bosun run for this issue. Add the `bosun` label to start one." };
    case "cancel": {
      if (!active) return { decision: "nothing to do", reply: "There is no run in progress to cancel." };
      const cancelled = await deps.store.forceState(active.id, "cancelled", `Cancelled by @${cmd.author}.`);
      if (cancelled) await transcript?.append("state", { from: active.state, to: "cancelled", by: cmd.author });
      // The worker holding the run stops at its next write; its container stops now.
      await deps.sandbox.cleanup(active.id).catch((e: unknown) => deps.log.warn({ err: e }, "could not remove a cancelled run's sandboxes"));
      if (cancelled) await refreshProgress(deps, octokit, cancelled);
      return { decision: "cancelled", reply: `Cancelled run \`${active.id}\`; its sandbox is stopped.` };
    }
    case "approve": {
      // The same command again (its first handling moved the run, then the process died before
      // answering): answer as the first time, do nothing twice.
      if (run?.facts.pushApproval?.command === cmd.id) return { decision: "approved", reply: pushApprovedReply(run) };
      if (run?.facts.approval?.command === cmd.id) return { decision: "approved", reply: `Approved text ${approvalHash(run.facts.approval)}, as the progress comment showed it.` };
      if (active?.state === "awaiting_push_approval") return approvePush(deps, cmd, active, role, transcript);
      if (!active || active.state !== "awaiting_approval") return { decision: "nothing to do", reply: `There is no run waiting for approval on this ${run?.prNumber === cmd.issueNumber ? "pull request" : "issue"}.` };
      // The approval is of the text the waiting comment showed (its hash printed there), not of
      // whatever the issue says when the command is handled.
      const { octokit: reader } = await tokens.get("fetch");
      const issue = (await reader.rest.issues.get({ owner: cmd.owner, repo: cmd.repo, issue_number: active.issueNumber })).data;
      const current = { title: issue.title, body: issue.body ?? null };
      const shown = active.facts.approvalShown ?? { ...current, hash: approvalHash(current), at: active.stateChangedAt.toISOString() };
      const named = cmd.args.trim().split(/\s+/)[0] ?? "";
      if (named && named !== shown.hash) return { decision: "refused", reply: `The text waiting for approval is text ${shown.hash}, not \`${named.slice(0, 40)}\`; nothing was approved.` };
      // A plain approval written before this text was shown, or given while the issue says something
      // else (the approver may have read the edit), approves nothing: Bosun shows the text as it is
      // now, and asks again.
      const edited = approvalHash(current) !== shown.hash;
      if (!named && (edited || cmd.createdAt.getTime() < Date.parse(shown.at))) {
        const now = { ...current, hash: approvalHash(current), at: new Date().toISOString() };
        const updated = await deps.store.amendFacts(active.id, { approvalShown: now });
        if (updated) await refreshProgress(deps, octokit, updated);
        return { decision: "refused", reply: `The issue ${edited ? "was edited after Bosun showed its text" : "text you approved was shown after you wrote this"}, so nothing was approved. The progress comment now shows the text as it stands (text ${now.hash}); read it and comment \`/bosun approve\` again (or \`/bosun approve ${now.hash}\`).` };
      }
      const approval = { by: cmd.author, at: new Date().toISOString(), title: shown.title, body: shown.body, command: cmd.id };
      const moved = await deps.store.forceState(active.id, "preparing", null, { approval }, "awaiting_approval");
      if (!moved) return { decision: "nothing to do", reply: "The run moved on before this approval arrived; nothing changed." };
      await transcript?.append("state", { from: "awaiting_approval", to: "preparing", by: cmd.author });
      await refreshProgress(deps, octokit, moved);
      return { decision: "approved", reply: `Approved text ${shown.hash}, as the progress comment shows it. ${edited ? "The issue was edited after that; the edit does not reach the agent (a follow-up on an edited issue asks again)." : "Later edits will not reach the agent."}` };
    }
    case "retry": {
      if (active) return { decision: "nothing to do", reply: `Run \`${active.id}\` is still ${active.state.replaceAll("_", " ")}; \`/bosun cancel\` it first.` };
      if (!run) return { decision: "nothing to do", reply: "There is no earlier run on this issue; add the `bosun` label to start one." };
      const next = await deps.store.createRunFromCommand({
        installationId: cmd.installationId, repoId: cmd.repoId, owner: cmd.owner, repo: cmd.repo, issueNumber: run.issueNumber,
        mode: run.mode, requestedBy: cmd.author, facts: { labelledAt: new Date().toISOString(), ...(cmd.authorId !== null ? { requesterId: cmd.authorId } : {}) },
      });
      return next ? { decision: "retried", reply: `Started run \`${next.id}\` again, at your request.` } : { decision: "nothing to do", reply: "Another run on this issue has just started." };
    }
    case "policy":
      return { decision: "answered", reply: await describePolicy(deps, cmd, (await tokens.get("fetch")).octokit, await orgPolicy()) };
    default:
      if (published && cmd.args.trim()) return followUp(deps, cmd, published, active, tokens);
      return { decision: "unknown command", reply: `Bosun does not know \`${`/bosun ${cmd.args}`.trim()}\`. Commands:\n${commandHelp}` };
  }
}

/** `/bosun <instructions>` on Bosun's pull request: a follow-up run on its branch. */
async function followUp(deps: RunDeps, cmd: StoredCommand, run: Run, active: Run | null, tokens: TokenBroker): Promise<{ reply: string; decision: string }> {
  if (active) return { decision: "nothing to do", reply: `Run \`${active.id}\` is still ${active.state.replaceAll("_", " ")}; give the instructions again when it ends, or \`/bosun cancel\` it first.` };
  const { octokit } = await tokens.get("readReviews");
  const pr = (await octokit.rest.pulls.get({ owner: cmd.owner, repo: cmd.repo, pull_number: cmd.issueNumber })).data;
  if (pr.state !== "open") return { decision: "nothing to do", reply: `Pull request #${pr.number} is ${pr.merged_at ? "merged" : "closed"}; Bosun follows up only on open ones.` };
  const next = await deps.store.createRunFromCommand({
    installationId: cmd.installationId, repoId: cmd.repoId, owner: cmd.owner, repo: cmd.repo, issueNumber: run.issueNumber,
    mode: "pull_request", requestedBy: cmd.author,
    facts: { labelledAt: new Date().toISOString(), ...(cmd.authorId !== null ? { requesterId: cmd.authorId } : {}), iteration: followUpOf(run, pr, cmd.author, null, cmd.args.trim()) },
  });
  return next
    ? { decision: "follow-up", reply: `Started run \`${next.id}\` to follow up on this pull request: it works on \`${pr.head.ref}\` as it stands and adds a commit.` }
    : { decision: "nothing to do", reply: "Another run on this issue has just started." };
}

/**
 * `/bosun approve` of a change Bosun holds: the verified commit the waiting comment shows is
 * pushed. The approver must have write access and must not be the person who asked for the run;
 * `/bosun approve <sha>` approves only that commit.
 */
async function approvePush(deps: RunDeps, cmd: StoredCommand, run: Run, role: string, transcript: Transcript | null): Promise<{ reply: string; decision: string }> {
  const sha = run.facts.commitSha ?? "";
  const short = sha.slice(0, 7);
  if (!hasWriteAccess(role)) return { decision: "refused", reply: `Approving the agent's change (${short}) for pushing needs write access to ${cmd.owner}/${cmd.repo}; you have ${role === "none" ? "no" : role} access.` };
  const refusal = pushApprovalRefusal(run, { login: cmd.author, id: cmd.authorId });
  if (refusal) return { decision: "refused", reply: `Bosun did not push ${short}: ${refusal}` };
  // Written before this change was held (say, while an earlier one was, since cancelled): it
  // approves what its author saw then, not this.
  if (cmd.createdAt.getTime() < run.stateChangedAt.getTime()) {
    return { decision: "refused", reply: `This approval was written before Bosun showed the change now waiting (${short}, held at ${run.stateChangedAt.toISOString().slice(11, 19)} UTC), so nothing was pushed. Look at it and comment \`/bosun approve\` again.` };
  }
  const named = cmd.args.trim().split(/\s+/)[0] ?? "";
  if (named && !(/^[0-9a-f]{7,40}$/i.test(named) && sha.startsWith(named.toLowerCase()))) {
    return { decision: "refused", reply: `The change waiting for approval is ${short}, not \`${named.slice(0, 40)}\`; nothing was pushed. Look at the change in the progress comment and approve it by its own id.` };
  }
  const pushApproval = { by: cmd.author, at: new Date().toISOString(), sha, command: cmd.id };
  // Recorded only; a worker publishes it (when the org's concurrency limits leave room).
  const approved = await deps.store.approveHeld(run.id, pushApproval);
  if (!approved) return { decision: "nothing to do", reply: "The run moved on (or was approved) before this approval arrived; nothing changed." };
  await transcript?.append("policy_decision", { rule: "push approval", decision: "approved", by: cmd.author, commit: sha });
  return { decision: "approved", reply: pushApprovedReply(approved) };
}

function pushApprovedReply(run: Run): string {
  const protectedPaths = run.facts.protectedChanges ?? [];
  const short = (run.facts.pushApproval?.sha ?? "").slice(0, 7);
  return `Approved ${short}${protectedPaths.length ? `, with its change to protected paths (${listPaths(protectedPaths)})` : ""}. Bosun pushes it and opens the pull request now; the pull request still needs an approving review of its head commit from someone who did not ask for it.`;
}

function statusOf(run: Run): string {
  const steps = (run.facts.steps ?? []).map((s) => `- ${s.name}`).join("\n");
  return [`Run \`${run.id}\` is **${run.state.replaceAll("_", " ")}** (since ${run.stateChangedAt.toISOString()}, attempt ${run.attempt}).`, steps, run.outcome ? `Outcome: ${run.outcome}` : "", run.prUrl ? `Pull request: ${run.prUrl}` : ""].filter(Boolean).join("\n\n");
}

async function refreshProgress(deps: RunDeps, octokit: GitHubClient, run: Run): Promise<void> {
  await upsertProgressComment(octokit, deps.appId, run, renderProgress(run, new Date(), deps.env.BOSUN_PUBLIC_URL)).catch((e: unknown) => deps.log.warn({ err: e }, "could not update the progress comment"));
}

async function describePolicy(deps: RunDeps, cmd: StoredCommand, octokit: GitHubClient, org: LoadedPolicy): Promise<string> {
  // An answer to a question: a file that cannot be read is reported as defaults, not as a failure.
  const repoText = org.ok ? await readRawFile(octokit, { owner: cmd.owner, repo: cmd.repo, path: repoConfigPath }).catch(() => null) : null;
  return describeEffectivePolicy(policyForRepository({ org, repo: cmd.repo, repoText, operator: operatorSettings(deps.env) }));
}
