// queued → preparing | refused: only people with write access (and no bots) may start work.
import { findMarkedComment } from "../../github/progress-comment.ts";
import { loadOrgPolicy } from "../../config/load-org-policy.ts";
import { hasWriteAccess, mayStartWork, teamChecker } from "../../policy/who-may-start.ts";
import type { ResolvedRules } from "../../config/org-policy.ts";
import { describeProblems, parseRepoConfig, repoConfigPath, type RepoConfig } from "../../config/repo-config.ts";
import { devcontainerPaths, parseDevcontainer, type Devcontainer } from "../../config/devcontainer.ts";
import type { GitHubClient } from "../../github/tokens.ts";
import { readRawFile } from "../../github/read-file.ts";
import { applyRepositoryChoices, defaultSource, operatorSettings, orgRulesFor, type RulesForRepository, type Sources } from "../../policy/effective-policy.ts";
import type { RunContext } from "../run-context.ts";
import { StepFailure } from "../step-failure.ts";
import { progressNumber } from "../run.ts";
import { approvalHash } from "../../policy/approval-text.ts";


/** The org's rules for this repository: read again on every attempt, so a fixed policy counts. */
async function loadRules(ctx: RunContext): Promise<RulesForRepository> {
  const { run } = ctx;
  const loaded = await loadOrgPolicy({ app: ctx.deps.app, apiUrl: ctx.deps.env.GITHUB_API_URL, log: ctx.log, installationId: run.installationId, owner: run.owner, transcript: ctx.transcript, redactor: ctx.redactor });
  if (!loaded.ok && loaded.unreadable) {
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: "readable org policy", problems: loaded.problems });
    throw new StepFailure({
      outcome: `Bosun could not read the org's policy (\`${run.owner}/.github\`: \`.github/bosun.yml\`), so it did not start the agent: it never works under defaults in place of a policy it could not read. Comment \`/bosun retry\` once GitHub answers again.`,
      title: "GitHub's answer", detail: ctx.redactor.text(loaded.unreadable),
    });
  }
  if (!loaded.ok) {
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: "valid org policy", problems: loaded.problems });
    throw new StepFailure({ outcome: "The org's Bosun policy is not valid, so Bosun did not start the agent. An org admin needs to fix it.", title: "Problems", detail: describeProblems(loaded.problems) });
  }
  const org = orgRulesFor(loaded.policy, run.repo, loaded.source);
  await ctx.transcript.append("policy_decision", { rule: "org policy", decision: "applied", source: loaded.source, matched_overrides: org.matched });
  return org;
}

/** "`key` in the org's policy (where its value came from)", for messages that name the rule. */
function ruleAt(sources: Sources, key: string): string {
  return `\`${key}\` in the org's policy (${sources[key] ?? defaultSource})`;
}

/** A message with the figures when a daily budget is spent; null when there is room. */
async function budgetSpent(ctx: RunContext, budgets: ResolvedRules["budgets"], sources: Sources): Promise<string | null> {
  const { run, deps } = ctx;
  const checks: [keyof ResolvedRules["budgets"], number | null, () => Promise<number>, string][] = [
    ["runs_per_day_per_repository", budgets.runs_per_day_per_repository, () => deps.store.countToday({ repoId: run.repoId, except: run.id }), ctx.repoFullName],
    ["runs_per_day_per_org", budgets.runs_per_day_per_org, () => deps.store.countToday({ owner: run.owner, except: run.id }), `the ${run.owner} org`],
  ];
  const minutes: [keyof ResolvedRules["budgets"], number | null, () => Promise<number>, string][] = [
    ["sandbox_minutes_per_day_per_repository", budgets.sandbox_minutes_per_day_per_repository, () => deps.store.sandboxMinutesToday({ repoId: run.repoId }), ctx.repoFullName],
    ["sandbox_minutes_per_day_per_org", budgets.sandbox_minutes_per_day_per_org, () => deps.store.sandboxMinutesToday({ owner: run.owner }), `the ${run.owner} org`],
  ];
  const raise = (key: string): string => `it renews at midnight UTC, or an org admin can raise ${ruleAt(sources, `budgets.${key}`)}.`;
  for (const [kind, list] of [["runs", checks], ["minutes", minutes]] as const) {
    for (const [key, limit, count, what] of list) {
      if (limit === null) continue;
      const used = await count();
      await ctx.transcript.append("policy_decision", { rule: `budgets.${key}`, source: sources[`budgets.${key}`], scope: what, limit, used, decision: used < limit ? "allowed" : "refused" });
      if (used < limit) continue;
      return kind === "runs"
        ? `the daily budget of ${limit} run${limit === 1 ? "" : "s"} for ${what} is spent (${used} started today, UTC); ${raise(key)}`
        : `the daily budget of ${limit} sandbox minute${limit === 1 ? "" : "s"} for ${what} is spent (${used.toFixed(2)} used today, UTC); ${raise(key)}`;
    }
  }
  return null;
}

/** The repository's .github/bosun.yml at the default branch, within the org's rules; kept on the run. */
async function settle(ctx: RunContext, org: RulesForRepository): Promise<void> {
  const { run } = ctx;
  const { octokit } = await ctx.tokens.get("fetch");
  const repo = (await octokit.rest.repos.get({ owner: run.owner, repo: run.repo })).data;
  const text = await readRawFile(octokit, { owner: run.owner, repo: run.repo, path: repoConfigPath, ref: repo.default_branch });
  const parsed = parseRepoConfig(text);
  if (!parsed.ok) {
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: "valid repository settings", problems: parsed.problems });
    throw new StepFailure({ outcome: `\`${repoConfigPath}\` is not valid, so Bosun did not start the agent. Fix it and label the issue again.`, title: "Problems", detail: describeProblems(parsed.problems) });
  }
  // The repository's dev container, where it has one: its image and lifecycle commands where
  // `.github/bosun.yml` says nothing, its variables for every phase.
  const devcontainer = await readDevcontainer(ctx, octokit, repo.default_branch);
  const { config, raw } = withDevcontainer(parsed.config, parsed.raw, devcontainer);
  if (devcontainer?.builds && !parsed.config.image) {
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: "dev container image", field: devcontainer.builds, file: devcontainer.path });
    throw new StepFailure({ outcome: `\`${devcontainer.builds}\` in \`${devcontainer.path}\` asks for an image to be built, and Bosun only runs images the org's policy allows (\`sandbox.images\`); it builds none. Name an allowed \`image\` there, or set \`image\` in \`${repoConfigPath}\`.` });
  }
  const resolved = applyRepositoryChoices({ org, config, raw, operator: operatorSettings(ctx.deps.env), followUp: run.facts.iteration !== undefined });
  if (!resolved.ok) {
    const fromDevcontainer = resolved.refusal.key === "image" && devcontainer?.image && !parsed.config.image ? devcontainer.path : null;
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: resolved.refusal.rule, source: resolved.refusal.source, asked: resolved.refusal.asked, reason: resolved.refusal.message, ...(fromDevcontainer ? { file: fromDevcontainer } : {}) });
    throw new StepFailure({
      outcome: resolved.refusal.rule === "sandbox.default_image"
        ? `The org's Bosun policy names a default image it does not allow, so Bosun did not start the agent: ${resolved.refusal.message}`
        : fromDevcontainer
        ? `The org's policy does not allow what \`${fromDevcontainer}\` asks for, so Bosun did not start the agent: ${resolved.refusal.message.replace(/^`image`:/, `\`image\` in \`${fromDevcontainer}\`:`)}`
        : `The org's policy does not allow what \`${repoConfigPath}\` asks for, so Bosun did not start the agent: ${resolved.refusal.message}`,
    });
  }
  if (devcontainer) await ctx.transcript.append("policy_decision", { rule: "dev container", decision: "applied", file: devcontainer.path, image: config.image === devcontainer.image ? devcontainer.image : null, setup: config.setup.command === devcontainer.setup ? devcontainer.setup : null, env: Object.keys(devcontainer.env) });
  for (const a of resolved.adjustments) {
    await ctx.transcript.append("policy_decision", { decision: "adjusted", key: a.key, asked: a.asked, given: a.given, rule: a.rule, source: a.source, reason: a.message });
  }
  for (const [phase, w] of Object.entries(resolved.policy.withheldSecrets ?? {})) {
    await ctx.transcript.append("policy_decision", { decision: "withheld", rule: `sandbox.phases.${phase}.secrets_reach_agent_code`, source: resolved.sources[`sandbox.phases.${phase}.secrets_reach_agent_code`], phase, withheld: w.secrets, reason: w.reason });
  }
  await ctx.transcript.append("policy_decision", { rule: "effective settings", decision: "applied", policy: resolved.policy, sources: resolved.sources });
  // A follow-up starts from its pull request's branch as it stands, and pushes to it.
  const it = run.facts.iteration;
  await ctx.update({ baseBranch: it ? it.branch : repo.default_branch, ...(it ? { branch: it.branch } : {}), facts: { policy: resolved.policy, policySources: resolved.sources, policyAdjustments: resolved.adjustments, config, defaultBranch: repo.default_branch, cloneUrl: repo.clone_url, ...(devcontainer ? { devcontainer } : {}) } });
  ctx.learnSecrets();
}

/** The first dev container file at the default branch, parsed; a broken one stops the run saying why. */
async function readDevcontainer(ctx: RunContext, octokit: GitHubClient, ref: string): Promise<Devcontainer | null> {
  const { run } = ctx;
  for (const path of devcontainerPaths) {
    const text = await readRawFile(octokit, { owner: run.owner, repo: run.repo, path, ref });
    if (text === null) continue;
    const parsed = parseDevcontainer(text, path);
    if (!parsed.ok) {
      await ctx.transcript.append("policy_decision", { decision: "refused", rule: "valid dev container", file: path, reason: parsed.message });
      throw new StepFailure({ outcome: `${parsed.message} Bosun did not start the agent; fix it and label the issue again.` });
    }
    return parsed.value;
  }
  return null;
}

/** `.github/bosun.yml` wins where both say something. */
function withDevcontainer(config: RepoConfig, raw: unknown, d: Devcontainer | null): { config: RepoConfig; raw: unknown } {
  if (!d) return { config, raw };
  const image = config.image ?? d.image ?? undefined;
  const setupCommand = config.setup.command ?? d.setup;
  const rawObject = (raw !== null && typeof raw === "object" ? raw : {}) as Record<string, unknown>;
  return {
    config: { ...config, ...(image ? { image } : {}), setup: { ...config.setup, command: setupCommand } },
    raw: { ...rawObject, ...(image && !config.image ? { image } : {}) },
  };
}

async function refuse(ctx: RunContext, reason: string, hint: string): Promise<void> {
  const { run } = ctx;
  const report = (await ctx.tokens.get("report")).octokit;
  const marker = `<!-- bosun:refusal run=${run.id} -->`;
  if (!(await findMarkedComment(report, ctx.deps.appId, { ...run, issueNumber: progressNumber(run) }, marker))) {
    await report.rest.issues.createComment({
      owner: run.owner, repo: run.repo, issue_number: progressNumber(run),
      body: `Bosun did not start: ${reason}${hint ? ` ${hint}` : ""}\n\n${marker}`,
    });
    await ctx.transcript.append("comment", { purpose: "refusal" });
  }
  await ctx.moveTo("refused", { outcome: reason });
}

export async function authorize(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  // A run that waits for room was authorized already: it only looks for room again.
  if (run.facts.waiting && run.facts.policy) return startWhenRoom(ctx, run.facts.policy.rules, run.facts.policySources ?? {});
  const { octokit } = await ctx.tokens.get("fetch");
  const org = await loadRules(ctx);
  const { rules, sources } = org;
  if (!rules.enabled) {
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: "enabled", source: sources["enabled"] });
    return refuse(ctx, `the org's policy does not enable Bosun for ${ctx.repoFullName} (${ruleAt(sources, "enabled")}).`, "");
  }
  if (!rules.modes.includes(run.mode)) {
    const what = run.mode === "plan" ? "plans" : "pull requests";
    await ctx.transcript.append("policy_decision", { decision: "refused", rule: "modes", mode: run.mode, allowed: rules.modes, source: sources["modes"] });
    return refuse(ctx, `the org's policy does not let Bosun make ${what} in ${ctx.repoFullName} (${ruleAt(sources, "modes")}: ${rules.modes.join(", ") || "none"}).`, "");
  }
  const role = run.facts.requesterType === "Bot" ? "none"
    : (await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: run.requestedBy })).data.role_name;
  const decision = await mayStartWork({
    rules, login: run.requestedBy, accountType: run.facts.requesterType, role, repo: ctx.repoFullName, org: run.owner,
    isTeamMember: async (slug) => teamChecker((await ctx.tokens.get("membership")).octokit, run.owner, run.requestedBy)(slug),
  });
  await ctx.tokens.revoke("membership");
  await ctx.transcript.append("policy_decision", { decision: decision.allowed ? "allowed" : "refused", rule: "who may start work", reason: decision.reason });
  if (!decision.allowed) return refuse(ctx, decision.reason, "A maintainer can add the label instead.");
  const spent = await budgetSpent(ctx, rules.budgets, sources);
  if (spent) return refuse(ctx, spent, "");
  await settle(ctx, org);

  await ctx.reportProgressOrNote();
  const report = (await ctx.tokens.get("report")).octokit;
  if (!run.facts.iteration) await report.rest.reactions.createForIssue({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber, content: "eyes" });
  await ctx.stepDone(`Checked that @${run.requestedBy} may assign work`);

  // Text written by someone without write access is untrusted: the agent does not read it until a
  // maintainer approves it with `/bosun approve`. A follow-up carries the approval of the run it
  // follows, for the text approved then: an edit since makes it wait for approval again.
  if (rules.approve_outsider_issues) {
    const issue = (await octokit.rest.issues.get({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber })).data;
    const author = issue.user?.login ?? "unknown";
    const authorRole = author === run.requestedBy ? "labeller" : (await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: run.owner, repo: run.repo, username: author }).catch(() => null))?.data.role_name ?? "none";
    if (authorRole !== "labeller" && !hasWriteAccess(authorRole)) {
      const approval = run.facts.approval ?? await inheritedApproval(ctx);
      const now = { title: issue.title, body: issue.body ?? null };
      const reason = `the issue was written by @${author}, who has ${authorRole === "none" ? "no" : authorRole} access to ${ctx.repoFullName}`;
      if (approval && approval.title === now.title && (approval.body ?? "") === (now.body ?? "")) {
        if (!run.facts.approval) await ctx.update({ facts: { approval } });
      } else if (!run.facts.approval) {
        const changed = approval ? `; @${approval.by} approved its text at ${approval.at.slice(0, 16).replace("T", " ")} UTC, and it was edited since (${describeEdit(approval, now)})` : "";
        const shown = { ...now, hash: approvalHash(now), at: new Date().toISOString() };
        await ctx.transcript.append("policy_decision", { decision: "awaiting approval", rule: "issue text from people without write access", reason: reason + changed, text_hash: shown.hash });
        await ctx.update({ facts: { approvalShown: shown } });
        await ctx.moveTo("awaiting_approval", { outcome: `Waiting: ${reason}${changed}. The agent has not read it. A maintainer can comment \`/bosun approve\` to let the agent read the text below (and only that text: later edits do not reach it).` });
        return;
      }
    }
  }
  await startWhenRoom(ctx, rules, sources);
}

/** The approval of the issue's text that the run this one follows up carried (none for a first run). */
async function inheritedApproval(ctx: RunContext): Promise<RunContext["run"]["facts"]["approval"] | undefined> {
  let of = ctx.run.facts.iteration?.of;
  for (let hops = 0; of && hops < 100; hops++) {
    const earlier = await ctx.deps.store.get(of);
    if (!earlier) return undefined;
    if (earlier.facts.approval) return earlier.facts.approval;
    of = earlier.facts.iteration?.of;
  }
  return undefined;
}

function describeEdit(was: { title: string; body: string | null }, now: { title: string; body: string | null }): string {
  const parts: string[] = [];
  if (was.title !== now.title) parts.push("its title");
  if ((was.body ?? "") !== (now.body ?? "")) parts.push("its body");
  return `${parts.join(" and ")} changed`;
}

/** Moves on to preparing when the policy's concurrency limits leave room; otherwise the run waits in the queue. */
async function startWhenRoom(ctx: RunContext, rules: ResolvedRules, sources: Sources): Promise<void> {
  const { runs_per_repository: perRepository, runs_per_org: perOrg } = rules.concurrency;
  await ctx.moveToIfRoom("preparing", { perRepository, perOrg }, (busy) => perRepository !== null && busy.repository >= perRepository
    ? `${busy.repository} run${busy.repository === 1 ? " is" : "s are"} working on ${ctx.repoFullName} already, the most the org's policy allows at once (${ruleAt(sources, "concurrency.runs_per_repository")}); this one starts when one of them ends.`
    : `${busy.org} runs are working in the ${ctx.run.owner} org already, the most the org's policy allows at once (${ruleAt(sources, "concurrency.runs_per_org")}); this one starts when one of them ends.`);
}
