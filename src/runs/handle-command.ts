// Carries out one `/bosun` command and answers it on the issue or pull request. Commands come
// only from people with write access; every command and refusal is in the run's transcript.
import { Redactor } from "../audit/redactor.ts";
import { Transcript } from "../audit/transcript.ts";
import { loadOrgPolicy } from "../config/load-org-policy.ts";
import { defaultOrgPolicy, type OrgPolicy } from "../config/org-policy.ts";
import { readRawFile } from "../github/read-file.ts";
import { mayStartWork, teamChecker } from "../policy/who-may-start.ts";
import { parseRepoConfig, repoConfigPath } from "../config/repo-config.ts";
import { findMarkedComment, renderProgress, upsertProgressComment } from "../github/progress-comment.ts";
import { TokenBroker, type GitHubClient } from "../github/tokens.ts";
import { commandHelp } from "./commands.ts";
import type { StoredCommand } from "./command-store.ts";
import { isTerminal, type Run } from "./run.ts";
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
  try {
    const { octokit } = await tokens.get("report");
    const perm = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: cmd.owner, repo: cmd.repo, username: cmd.author });
    const role = perm.data.role_name;
    const policy = run?.facts.policy ?? (await loadPolicyOrDefaults(deps, cmd));
    const may = await mayStartWork({
      policy, login: cmd.author, accountType: cmd.authorType, role, repo: `${cmd.owner}/${cmd.repo}`, org: cmd.owner,
      isTeamMember: async (slug) => teamChecker((await tokens.get("membership")).octokit, cmd.owner, cmd.author)(slug),
    });
    let reply: string;
    let decision: string;
    if (!may.allowed) {
      decision = "refused";
      reply = `Only people the org's policy lets start work can give Bosun commands: ${may.reason}`;
    } else {
      ({ reply, decision } = await carryOut(deps, cmd, run, octokit, tokens));
    }
    // An approval of issue text is a review decision; everything else, refusals included, a policy decision.
    await transcript?.append(decision === "approved" ? "review" : "policy_decision", { rule: "commands", command: `/bosun ${cmd.verb}${cmd.args ? ` ${cmd.args}` : ""}`, author: cmd.author, role, decision, reply });
    const marker = `<!-- bosun:reply command=${cmd.id} -->`;
    const body = redactor.text(`@${cmd.author} ${reply}\n\n${marker}`);
    if (!(await findMarkedComment(octokit, deps.appId, { owner: cmd.owner, repo: cmd.repo, issueNumber: cmd.issueNumber }, marker))) {
      await octokit.rest.issues.createComment({ owner: cmd.owner, repo: cmd.repo, issue_number: cmd.issueNumber, body });
    }
    return reply;
  } finally {
    await tokens.revokeAll();
  }
}

async function carryOut(deps: RunDeps, cmd: StoredCommand, run: Run | null, octokit: GitHubClient, tokens: TokenBroker): Promise<{ reply: string; decision: string }> {
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
      return { decision: "answered", reply: await describePolicy(deps, cmd, (await tokens.get("fetch")).octokit) };
    default:
      return { decision: "unknown command", reply: `Bosun does not know \`${`/bosun ${cmd.args}`.trim()}\`. Commands:\n${commandHelp}` };
  }
}

/** The org policy for a command on an issue without a run; a broken one falls back to the defaults (write access or more). */
async function loadPolicyOrDefaults(deps: RunDeps, cmd: StoredCommand): Promise<OrgPolicy> {
  const loaded = await loadOrgPolicy({ app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, installationId: cmd.installationId, owner: cmd.owner, transcript: null, redactor: new Redactor() });
  return loaded.ok ? loaded.policy : defaultOrgPolicy();
}

function statusOf(run: Run): string {
  const steps = (run.facts.steps ?? []).map((s) => `- ${s.name}`).join("\n");
  return [`Run \`${run.id}\` is **${run.state.replace("_", " ")}** (since ${run.stateChangedAt.toISOString()}, attempt ${run.attempt}).`, steps, run.outcome ? `Outcome: ${run.outcome}` : "", run.prUrl ? `Pull request: ${run.prUrl}` : ""].filter(Boolean).join("\n\n");
}

async function refreshProgress(deps: RunDeps, octokit: GitHubClient, run: Run): Promise<void> {
  await upsertProgressComment(octokit, deps.appId, run, renderProgress(run)).catch((e: unknown) => deps.log.warn({ err: e }, "could not update the progress comment"));
}

async function describePolicy(deps: RunDeps, cmd: StoredCommand, octokit: GitHubClient): Promise<string> {
  const redactor = new Redactor();
  const org = await loadOrgPolicy({ app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: deps.log, installationId: cmd.installationId, owner: cmd.owner, transcript: null, redactor });
  // An answer to a question: a file that cannot be read is reported as defaults, not as a failure.
  const repoText = await readRawFile(octokit, { owner: cmd.owner, repo: cmd.repo, path: repoConfigPath }).catch(() => null);
  const repo = parseRepoConfig(repoText);
  const lines = ["The settings in force for this repository:", ""];
  if (!org.ok) lines.push(`- org policy: **not valid**, so no run starts: ${org.problems.map((p) => `${p.key ?? ""} ${p.message}`).join("; ")}`);
  else {
    const sb = org.policy.sandbox;
    lines.push(`- org policy, from ${org.source}:`);
    lines.push(`  - runtime: ${sb.runtime ?? deps.env.BOSUN_RUNTIME}${sb.runtime ? "" : " (Bosun's BOSUN_RUNTIME)"}`);
    lines.push(`  - images allowed: ${[deps.env.BOSUN_AGENT_IMAGE, ...sb.images].map((i) => `\`${i}\``).join(", ")}`);
    for (const [phase, p] of Object.entries(sb.phases)) {
      lines.push(`  - ${phase}: network ${p.network}${p.network === "allowlist" ? ` (presets: ${p.presets.join(", ") || "none"}; hosts: ${p.hosts.join(", ") || "none"})` : ""}; secrets: ${p.secrets.join(", ") || "none"}`);
    }
  }
  if (!repo.ok) lines.push(`- \`${repoConfigPath}\`: **not valid**: ${repo.problems.map((p) => `line ${p.line ?? "?"} ${p.key ?? ""}: ${p.message}`).join("; ")}`);
  else {
    const c = repo.config;
    lines.push(`- repository settings, from ${repoText === null ? "defaults (no `.github/bosun.yml`)" : `\`${repoConfigPath}\``}:`);
    lines.push(`  - agent: \`${c.agent.command ?? deps.env.BOSUN_DEFAULT_AGENT_COMMAND}\`${c.agent.command ? "" : " (Bosun's default)"}; timeout ${c.agent.timeout_minutes} min; inactivity ${c.agent.inactivity_minutes} min`);
    lines.push(`  - image: \`${c.image ?? deps.env.BOSUN_AGENT_IMAGE}\``);
    lines.push(`  - setup: ${c.setup.command ? `\`${c.setup.command}\`` : "none"}; test: ${c.test.command ? `\`${c.test.command}\`` : "none"}`);
  }
  return lines.join("\n");
}
