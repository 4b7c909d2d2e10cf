// publishing → succeeded | failed: push bosun/<issue>-<slug>, open or update the pull request,
// post the check runs, request reviewers from CODEOWNERS, and apply the protection gate.
import { checkNames, upsertCheckRun } from "../../github/check-runs.ts";
import { pushBranch, remoteBranchSha, runGit } from "../../github/git.ts";
import { readTranscript } from "../../audit/transcript.ts";
import { branchName, renderPullRequestBody, upsertPullRequest, type NetworkSummary } from "../../github/pull-request.ts";
import { ownersOfFiles } from "../../policy/codeowners.ts";
import { checkProtectionGate } from "../../policy/protection-gate.ts";
import type { RunContext } from "../run-context.ts";
import type { RunContext as Ctx } from "../run-context.ts";
import { StepFailure } from "../step-failure.ts";
import { buildCommit } from "./verify.ts";

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

export async function publish(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  const { octokit, token } = await ctx.tokens.get("publish");
  const { checkout, sha } = await buildCommit(ctx);
  if (!sha || sha !== run.facts.commitSha) throw new Error(`[bosun/runs] the rebuilt commit ${sha ?? "(none)"} differs from the verified one ${run.facts.commitSha ?? "(none)"}`);
  const url = run.facts.cloneUrl ?? "";
  const branch = run.branch ?? (await chooseBranch(ctx, checkout, url, token));
  if (!run.branch) await ctx.update({ branch });
  const remote = await remoteBranchSha({ dir: checkout, url, token, branch });
  if (remote !== sha) {
    try {
      await pushBranch({ dir: checkout, url, token, branch });
    } catch (e) {
      if (/workflows?` permission/.test(String(e))) {
        throw new StepFailure({
          outcome: "The agent changed a workflow under `.github/workflows/`. Bosun does not hold GitHub's `workflows` permission, so it cannot push that change; make it by hand, or ask again without it.",
          title: "git push", detail: ctx.redactor.text(String(e)),
        });
      }
      throw e;
    }
    await ctx.transcript.append("push", { branch, commit: sha, previous: remote });
  }
  await ctx.update({ headSha: sha });
  await ctx.stepDone(`Pushed \`${branch}\``);

  const base = run.baseBranch ?? "main";
  const gate = await checkProtectionGate(octokit, { owner: run.owner, repo: run.repo, branch: base, appId: ctx.deps.appId });
  await ctx.transcript.append("policy_decision", { rule: "base branch protection gate", decision: gate.ok ? "ready" : "draft", missing: gate.missing });
  const testsPassed = run.facts.testCommand ? run.facts.testExitCode === 0 && !run.facts.testTimedOut : null;
  const draft = !gate.ok || testsPassed === false;
  const title = run.facts.prTitle ?? `Bosun: ${run.facts.issueTitle ?? `issue #${run.issueNumber}`}`;
  const body = ctx.redactor.text(renderPullRequestBody(ctx.run, { gateMissing: gate.missing, testsPassed, network: await networkSummary(ctx) }));
  const pr = await upsertPullRequest(octokit, { owner: run.owner, repo: run.repo, head: branch, base, title, body, draft });
  await ctx.transcript.append("pull_request", { number: pr.number, url: pr.url, draft: pr.draft, created: pr.created, title });
  await ctx.update({ prNumber: pr.number, prUrl: pr.url, facts: { gateMissing: gate.missing } });

  const testCheck = await upsertCheckRun(octokit, {
    owner: run.owner, repo: run.repo, headSha: sha, name: checkNames.tests, externalId: `${run.id}:tests`, knownId: run.checkRunId,
    fields: testsPassed === null
      ? { status: "completed", conclusion: gate.ok ? "success" : "failure", title: gate.ok ? "No test command configured" : "Branch protection is missing settings", summary: gateSummary(gate.missing, "No test command is configured; Bosun ran no tests.") }
      : {
          status: "completed",
          conclusion: testsPassed && gate.ok ? "success" : "failure",
          title: testsPassed ? (gate.ok ? "Tests passed" : "Tests passed; branch protection is missing settings") : "Tests failed",
          summary: gateSummary(gate.missing, `\`${run.facts.testCommand ?? ""}\` ${testsPassed ? "passed" : "failed"} on ${sha.slice(0, 7)}.`),
          text: run.facts.testOutputTail ? `\`\`\`\n${run.facts.testOutputTail}\n\`\`\`` : undefined,
        },
  });
  const reviewCheck = await upsertCheckRun(octokit, {
    owner: run.owner, repo: run.repo, headSha: sha, name: checkNames.independentReview, externalId: `${run.id}:independent-review`, knownId: run.reviewCheckRunId,
    fields: { status: "in_progress", title: "Waiting for an independent approval", summary: `@${run.requestedBy} asked for this change, so their approval alone does not count. Another person with write access must approve this pull request.` },
  });
  await ctx.transcript.append("check_run", { name: checkNames.tests, id: testCheck, conclusion: testsPassed && gate.ok ? "success" : testsPassed === null && gate.ok ? "success" : "failure" });
  await ctx.transcript.append("check_run", { name: checkNames.independentReview, id: reviewCheck, status: "in_progress" });
  await ctx.update({ checkRunId: testCheck, reviewCheckRunId: reviewCheck });

  const owners = await ownersOfFiles(checkout, run.baseSha ?? "HEAD", (run.facts.changedFiles ?? []).map((f) => f.path));
  const reviewers = owners.users.filter((u) => u.toLowerCase() !== run.requestedBy.toLowerCase() && !u.endsWith("[bot]"));
  if (reviewers.length || owners.teams.length) {
    await octokit.rest.pulls.requestReviewers({ owner: run.owner, repo: run.repo, pull_number: pr.number, reviewers, team_reviewers: owners.teams });
    await ctx.update({ facts: { reviewersRequested: [...reviewers, ...owners.teams.map((t) => `${run.owner}/${t}`)] } });
  }
  const labels = run.facts.config?.pull_request.labels ?? ["bosun"];
  if (labels.length) await octokit.rest.issues.addLabels({ owner: run.owner, repo: run.repo, issue_number: pr.number, labels });
  await ctx.stepDone(`${pr.created ? "Opened" : "Updated"} pull request #${pr.number}${pr.draft ? " (draft)" : ""}`);

  if (testsPassed === false) {
    await ctx.moveTo("failed", { outcome: `The tests failed on the agent's change. Pull request ${pr.url} is open as a draft with a failing check, so people can look.` });
  } else if (pr.draft) {
    await ctx.moveTo("succeeded", { outcome: gate.ok ? `Pull request ${pr.url} is open as a draft; mark it ready for review when you are.` : `Pull request ${pr.url} is open as a draft: the base branch's protection is missing settings (see the \`bosun\` check).` });
  } else {
    await ctx.moveTo("succeeded", { outcome: `Pull request ${pr.url} is ready for review. It needs an approval from someone other than @${run.requestedBy}.` });
  }
}

function gateSummary(missing: string[], first: string): string {
  if (missing.length === 0) return first;
  return `${first}\n\nBosun keeps this pull request a draft until the base branch's protection has these settings:\n${missing.map((m) => `- ${m}`).join("\n")}`;
}

/** Hosts each phase reached and was refused, from the run's `network` events. */
async function networkSummary(ctx: Ctx): Promise<NetworkSummary[]> {
  const byPhase = new Map<string, { reached: Set<string>; refused: Set<string> }>();
  for (const e of await readTranscript(ctx.deps.pool, ctx.run.id)) {
    if (e.kind !== "network") continue;
    const phase = typeof e.payload["phase"] === "string" ? e.payload["phase"] : "?";
    const entry = byPhase.get(phase) ?? { reached: new Set<string>(), refused: new Set<string>() };
    byPhase.set(phase, entry);
    const host = `${e.payload["host"] as string}:${e.payload["port"] as number}`;
    (e.payload["allowed"] === true ? entry.reached : entry.refused).add(host);
  }
  return [...byPhase].map(([phase, v]) => ({ phase, reached: [...v.reached].sort(), refused: [...v.refused].sort() }));
}
