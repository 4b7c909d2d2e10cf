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
import { checkNames, upsertCheckRun } from "../github/check-runs.ts";
import { setDraft } from "../github/pull-request.ts";
import { readiness } from "../policy/readiness.ts";
import { commandHelp } from "./commands.ts";
import type { StoredCommand } from "./command-store.ts";
import { followUpOf, isTerminal, type Run } from "./run.ts";
import type { RunDeps } from "./run-context.ts";

export async function handleCommand(deps: RunDeps, cmd: StoredCommand): Promise<string> {
  const redactor = new Redactor();
  const runs = await deps.store.list({ owner: cmd.owner, repo: cmd.repo });
  const run = [...runs].reverse().find((r) => r.issueNumber === cmd.issueNumber || r.prNumber === cmd.issueNumber) ?? null;
  const transcript = run ? new Transcript(deps.pool, run.id, redactor) : null;
  const tokens = new TokenBroker({
    app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, transcript, redactor,
    target: { installationId: cmd.installationId, repoId: cmd.repoId, repoFullName: `${cmd.owner}/${cmd.repo}` },
  });
  // Read at most once per command: who may give it, and `/bosun policy`'s answer, use the same file.
  let org: Promise<LoadedPolicy> | null = null;
  const orgPolicy = (): Promise<LoadedPolicy> => (org ??= loadOrgPolicy({ app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, installationId: cmd.installationId, owner: cmd.owner, transcript: null, redactor: new Redactor() }));
  try {
    const { octokit } = await tokens.get("report");
    const perm = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: cmd.owner, repo: cmd.repo, username: cmd.author });
    const role = perm.data.role_name;
    // A command on an issue without a run: a broken policy falls back to Bosun's defaults (write access or more).
    let rules: ResolvedRules | undefined = run?.facts.policy?.rules;
    if (!rules) {
      const loaded = await orgPolicy();
      rules = orgRulesFor(loaded.ok ? loaded.policy : null, cmd.repo).rules;
    }
    const may = await mayStartWork({
      rules, login: cmd.author, accountType: cmd.authorType, role, repo: `${cmd.owner}/${cmd.repo}`, org: cmd.owner,
      isTeamMember: async (slug) => teamChecker((await tokens.get("membership")).octokit, cmd.owner, cmd.author)(slug),
    });
    let reply: string;
    let decision: string;
    if (!may.allowed) {
      decision = "refused";
      reply = `Only people the org's policy lets start work can give Bosun commands: ${may.reason}`;
    } else {
      ({ reply, decision } = await carryOut(deps, cmd, run, octokit, tokens, role, orgPolicy));
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
  } finally {
    await tokens.revokeAll();
  }
}

async function carryOut(deps: RunDeps, cmd: StoredCommand, run: Run | null, octokit: GitHubClient, tokens: TokenBroker, role: string, orgPolicy: () => Promise<LoadedPolicy>): Promise<{ reply: string; decision: string }> {
  const active = run && !isTerminal(run.state) ? run : null;
  switch (cmd.verb) {
    case "status":
      return { decision: "answered", reply: run ? statusOf(run) : "There is no Bosun run for this issue. Add the `bosun` label to start one." };
    case "cancel": {
      if (!active) return { decision: "nothing to do", reply: "There is no run in progress to cancel." };
      const cancelled = await deps.store.forceState(active.id, "cancelled", `Cancelled by @${cmd.author}.`);
      // The worker holding the run stops at its next write; its container stops now.
      await deps.sandbox.cleanup(active.id).catch((e: unknown) => deps.log.warn({ err: e }, "could not remove a cancelled run's sandboxes"));
      if (cancelled) await refreshProgress(deps, octokit, cancelled);
      return { decision: "cancelled", reply: `Cancelled run \`${active.id}\`; its sandbox is stopped.` };
    }
    case "approve": {
      if (run && run.prNumber === cmd.issueNumber) return approveProtectedPaths(deps, cmd, run, tokens, role);
      if (!active || active.state !== "awaiting_approval") return { decision: "nothing to do", reply: "There is no run waiting for approval on this issue." };
      const { octokit: reader } = await tokens.get("fetch");
      const issue = (await reader.rest.issues.get({ owner: cmd.owner, repo: cmd.repo, issue_number: active.issueNumber })).data;
      const approval = { by: cmd.author, at: new Date().toISOString(), title: issue.title, body: issue.body ?? null };
      const moved = await deps.store.forceState(active.id, "preparing", null, { approval });
      if (moved) await refreshProgress(deps, octokit, moved);
      return { decision: "approved", reply: "Approved. The agent now reads the issue as it stands; later edits will not reach it." };
    }
    case "retry": {
      if (active) return { decision: "nothing to do", reply: `Run \`${active.id}\` is still ${active.state.replace("_", " ")}; \`/bosun cancel\` it first.` };
      if (!run) return { decision: "nothing to do", reply: "There is no earlier run on this issue; add the `bosun` label to start one." };
      const next = await deps.store.createRunFromCommand({
        installationId: cmd.installationId, repoId: cmd.repoId, owner: cmd.owner, repo: cmd.repo, issueNumber: run.issueNumber,
        mode: run.mode, requestedBy: cmd.author, facts: { labelledAt: new Date().toISOString() },
      });
      return next ? { decision: "retried", reply: `Started run \`${next.id}\` again, at your request.` } : { decision: "nothing to do", reply: "Another run on this issue has just started." };
    }
    case "policy":
      return { decision: "answered", reply: await describePolicy(deps, cmd, (await tokens.get("fetch")).octokit, await orgPolicy()) };
    default:
      if (run && run.prNumber === cmd.issueNumber && cmd.args.trim()) return followUp(deps, cmd, run, active, tokens);
      return { decision: "unknown command", reply: `Bosun does not know \`${`/bosun ${cmd.args}`.trim()}\`. Commands:\n${commandHelp}` };
  }
}

/** `/bosun <instructions>` on Bosun's pull request: a follow-up run on its branch. */
async function followUp(deps: RunDeps, cmd: StoredCommand, run: Run, active: Run | null, tokens: TokenBroker): Promise<{ reply: string; decision: string }> {
  if (active) return { decision: "nothing to do", reply: `Run \`${active.id}\` is still ${active.state.replace("_", " ")}; give the instructions again when it ends, or \`/bosun cancel\` it first.` };
  const { octokit } = await tokens.get("readReviews");
  const pr = (await octokit.rest.pulls.get({ owner: cmd.owner, repo: cmd.repo, pull_number: cmd.issueNumber })).data;
  if (pr.state !== "open") return { decision: "nothing to do", reply: `Pull request #${pr.number} is ${pr.merged_at ? "merged" : "closed"}; Bosun follows up only on open ones.` };
  const next = await deps.store.createRunFromCommand({
    installationId: cmd.installationId, repoId: cmd.repoId, owner: cmd.owner, repo: cmd.repo, issueNumber: run.issueNumber,
    mode: "pull_request", requestedBy: cmd.author,
    facts: { labelledAt: new Date().toISOString(), iteration: followUpOf(run, pr, cmd.author, null, cmd.args.trim()) },
  });
  return next
    ? { decision: "follow-up", reply: `Started run \`${next.id}\` to follow up on this pull request: it works on \`${pr.head.ref}\` as it stands and adds a commit.` }
    : { decision: "nothing to do", reply: "Another run on this issue has just started." };
}

/** `/bosun approve` on Bosun's pull request: the change to protected paths in its commit is approved. */
async function approveProtectedPaths(deps: RunDeps, cmd: StoredCommand, run: Run, tokens: TokenBroker, role: string): Promise<{ reply: string; decision: string }> {
  const changed = run.facts.protectedChanges ?? [];
  const sha = run.facts.commitSha ?? "";
  const paths = changed.map((p) => `\`${p}\``).join(", ");
  if (!changed.length) return { decision: "nothing to do", reply: "This pull request changes no protected paths, so there is nothing for `/bosun approve` to approve. Review it as usual." };
  if (run.facts.protectedApproval?.sha === sha) return { decision: "nothing to do", reply: `@${run.facts.protectedApproval.by} already approved the change to ${paths} in ${sha.slice(0, 7)}.` };
  if (!hasWriteAccess(role)) return { decision: "refused", reply: `Approving a change to protected paths (${paths}) needs write access to ${cmd.owner}/${cmd.repo}; you have ${role === "none" ? "no" : role} access.` };
  const approved = await deps.store.amendFacts(run.id, { protectedApproval: { by: cmd.author, at: new Date().toISOString(), sha } });
  if (!approved) return { decision: "nothing to do", reply: "The run behind this pull request is gone." };
  const ready = readiness(approved);
  const { octokit } = await tokens.get("approve");
  await upsertCheckRun(octokit, {
    owner: run.owner, repo: run.repo, headSha: sha, name: checkNames.tests, externalId: `${run.id}:tests`, knownId: run.checkRunId, fields: ready.check,
  });
  const pr = (await octokit.rest.pulls.get({ owner: run.owner, repo: run.repo, pull_number: cmd.issueNumber })).data;
  const draft = pr.state === "open" ? await setDraft(octokit, { nodeId: pr.node_id, draft: pr.draft ?? false }, ready.draft) : pr.draft ?? false;
  const state = ready.blockers.length ? `The \`bosun\` check still fails: ${ready.blockers.join("; ")}.` : "The `bosun` check passes now.";
  const next = draft ? "The pull request stays a draft." : `The pull request is ready for review; it still needs an approving review from someone other than @${run.requestedBy}.`;
  return { decision: "approved", reply: `Approved the change to ${paths} in ${sha.slice(0, 7)}. ${state} ${next}` };
}

function statusOf(run: Run): string {
  const steps = (run.facts.steps ?? []).map((s) => `- ${s.name}`).join("\n");
  return [`Run \`${run.id}\` is **${run.state.replace("_", " ")}** (since ${run.stateChangedAt.toISOString()}, attempt ${run.attempt}).`, steps, run.outcome ? `Outcome: ${run.outcome}` : "", run.prUrl ? `Pull request: ${run.prUrl}` : ""].filter(Boolean).join("\n\n");
}

async function refreshProgress(deps: RunDeps, octokit: GitHubClient, run: Run): Promise<void> {
  await upsertProgressComment(octokit, deps.appId, run, renderProgress(run, new Date(), deps.env.BOSUN_PUBLIC_URL)).catch((e: unknown) => deps.log.warn({ err: e }, "could not update the progress comment"));
}

async function describePolicy(deps: RunDeps, cmd: StoredCommand, octokit: GitHubClient, org: LoadedPolicy): Promise<string> {
  // An answer to a question: a file that cannot be read is reported as defaults, not as a failure.
  const repoText = org.ok ? await readRawFile(octokit, { owner: cmd.owner, repo: cmd.repo, path: repoConfigPath }).catch(() => null) : null;
  return describeEffectivePolicy(policyForRepository({ org, repo: cmd.repo, repoText, operator: operatorSettings(deps.env) }));
}
