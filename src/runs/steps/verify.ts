// verifying → publishing | succeeded | failed: Bosun, not the agent, computes the diff on its own
// clone, commits it, and runs the repository's test command on exactly that commit in a fresh
// sandbox. A plan is posted as a comment instead.
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { changedFiles, commitIndex, neutralizeAttributes, runGit } from "../../github/git.ts";
import { neutralize } from "../../github/markdown.ts";
import { findMarkedComment } from "../../github/progress-comment.ts";
import type { OverlayLower } from "../../sandbox/sandbox.ts";
import type { Run } from "../run.ts";
import type { RunContext } from "../run-context.ts";
import { diskFields, diskStopText, lastLines, runPhase } from "../run-phase.ts";
import { setUpWorkspace } from "../setup.ts";
import { StepFailure } from "../step-failure.ts";
import { ensureCheckout, headOf } from "./checkout.ts";
import { protectedChanges } from "../../gate/protected-paths.ts";
import { pushApprovalNeeded } from "../../gate/push-approval.ts";
import { secretInChange } from "./scan-change.ts";
import { revealHidden } from "../../policy/sanitize-issue-text.ts";

const maxDiffEvent = 200_000;

const maxPatchBytes = 50 * 1024 * 1024;

/**
 * The agent's change as a patch, computed in a sandbox against a pristine copy of Bosun's own
 * git directory (never the agent's .git, never by unpacking agent files on the host), then
 * applied to Bosun's clean checkout with `git apply --index`.
 */
async function takeChange(ctx: RunContext, checkout: string): Promise<void> {
  const { run, deps } = ctx;
  const base = run.baseSha;
  if (!base) throw new Error("[bosun/runs] no base commit");
  await runGit(checkout, ["reset", "--quiet", "--hard", base]);
  await runGit(checkout, ["clean", "-ffdxq"]);
  // Copied with the git directory: the patch is computed whatever the agent's .gitattributes say.
  await neutralizeAttributes(checkout);
  // What setup installed (node_modules/, .venv/) is not the agent's change, .gitignore or not.
  const leftovers = (run.facts.setupLeftovers ?? []).filter((p) => !p.includes("\n"));
  await mkdir(join(checkout, ".git", "info"), { recursive: true });
  await writeFile(join(checkout, ".git", "info", "exclude"), leftovers.map(excludePattern).join("\n") + "\n");
  if (leftovers.length) await ctx.transcript.append("policy_decision", { rule: "setup's leftovers", decision: "kept out of the change", count: leftovers.length, paths: leftovers.slice(0, 50) });
  const workspace = await deps.sandbox.createVolume(run.id, "workspace");
  const gitVolume = await deps.sandbox.createVolume(run.id, "git");
  // Mounted at /bosun (owned by the sandbox user in the image, so the volume is too) as /bosun/git.
  await deps.sandbox.seedVolume({ runId: run.id, image: deps.env.BOSUN_AGENT_IMAGE, volume: gitVolume, mountPath: "/bosun", hostDir: join(checkout, ".git"), as: "git" });
  const git = "git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c core.attributesFile=/dev/null -c core.excludesFile=/dev/null";
  const outcome = await deps.sandbox.run({
    runId: run.id, role: "diff", attempt: run.epoch, image: deps.env.BOSUN_AGENT_IMAGE,
    command: `set -e; ${git} add --all; ${git} diff --cached --binary --full-index --no-color --no-ext-diff --no-textconv --no-renames ${base}`,
    env: { GIT_DIR: "/bosun/git", GIT_WORK_TREE: "/workspace", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", HOME: "/tmp" },
    volumes: { [workspace]: "/workspace:ro", [gitVolume]: "/bosun" },
    timeoutMs: 10 * 60_000,
    captureStdoutBytes: maxPatchBytes,
    ...ctx.sandboxSettings,
  });
  if (outcome.exitCode !== 0 || outcome.timedOut) {
    throw new StepFailure({ outcome: "Bosun could not compute the agent's change from the workspace.", title: "git output", detail: ctx.redactor.text(outcome.outputTail.slice(-4000)) });
  }
  if (outcome.stdout === null) {
    throw new StepFailure({ outcome: `The agent's change is larger than ${maxPatchBytes / 1024 / 1024} MiB, which is more than Bosun proposes in one pull request.` });
  }
  if (outcome.stdout.trim() === "") return;
  // A secret in the change would be pushed to GitHub for anyone with read access to see.
  const leaked = (file?: string): StepFailure => new StepFailure({ outcome: `The agent's change contains the value of a secret${file ? ` (in \`${ctx.redactor.text(file)}\`)` : ""}, so Bosun does not push it. Look at what the agent wrote before asking again.` });
  if (ctx.redactor.found(outcome.stdout)) throw leaked();
  const patchFile = join(ctx.dir, "change.patch");
  await writeFile(patchFile, outcome.stdout);
  await runGit(checkout, ["apply", "--index", "--binary", "--whitespace=nowarn", patchFile]);
  // Binary files' patches are compressed: every changed file is searched whole, as bytes, too.
  const file = await secretInChange(ctx.redactor, checkout, base);
  if (file !== null) throw leaked(file);
}

/** A path relative to the repository's root as a gitignore pattern matching it alone (a folder with its trailing slash). */
export function excludePattern(path: string): string {
  return `/${path.replace(/[\\*?[]/g, (c) => `\\${c}`).replace(/ +$/, (sp) => sp.replace(/ /g, "\\ "))}`;
}

export function commitMessage(run: Run, botEmail: string): { message: string; author: { name: string; email: string } } {
  const title = run.facts.prTitle ?? `Bosun: ${run.facts.issueTitle ?? `issue #${run.issueNumber}`}`;
  const requester = run.facts.requesterId ? `${run.facts.requesterId}+${run.requestedBy}@users.noreply.github.com` : `${run.requestedBy}@users.noreply.github.com`;
  const it = run.facts.iteration;
  const message = [
    it ? `${it.review ? `Address @${it.by}'s review` : `Follow up on @${it.by}'s request`} (#${it.pullNumber})` : `${neutralize(title)} (#${run.issueNumber})`,
    "",
    ...(run.facts.summary ? [neutralize(run.facts.summary.split("\n\n")[0] ?? ""), ""] : []),
    `Bosun-Run: ${run.id}`,
    `Bosun-Issue: ${run.owner}/${run.repo}#${run.issueNumber}`,
    `Co-authored-by: ${run.requestedBy} <${requester}>`,
  ].join("\n");
  return { message, author: { name: "Bosun", email: botEmail } };
}

export const botEmail = "bosun[bot]@users.noreply.github.com";

/** Builds (or rebuilds, identically) the run's commit on the checkout; returns its sha or null for no change. */
export async function buildCommit(ctx: RunContext): Promise<{ checkout: string; sha: string | null; files: { path: string; status: string }[] }> {
  const checkout = await ensureCheckout(ctx);
  const base = ctx.run.baseSha ?? "HEAD";
  // Built already on this checkout (verify, then publish in the same place): a commit's sha names
  // its content, so computing the change again in a sandbox would give this very commit.
  const built = ctx.run.facts.commitSha;
  if (built && (await headOf(checkout)) === built) {
    // Its tree exactly as committed: the tests are seeded from it.
    await runGit(checkout, ["reset", "--quiet", "--hard", built]);
    await runGit(checkout, ["clean", "-ffdxq"]);
    return { checkout, sha: built, files: ctx.run.facts.changedFiles ?? await changedFiles(checkout, base) };
  }
  await takeChange(ctx, checkout);
  const files = await changedFiles(checkout, base);
  if (files.length === 0) return { checkout, sha: null, files };
  const date = ctx.run.facts.commitDate ?? new Date().toISOString();
  if (!ctx.run.facts.commitDate) await ctx.update({ facts: { commitDate: date } });
  const sha = await commitIndex(checkout, { ...commitMessage(ctx.run, botEmail), date });
  return { checkout, sha, files };
}

async function postPlan(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  const { octokit } = await ctx.tokens.get("report");
  const marker = `<!-- bosun:plan run=${run.id} -->`;
  const body = ctx.redactor.text([`### Bosun · plan for #${run.issueNumber}`, "", run.facts.summary ? neutralize(run.facts.summary) : "_The agent wrote no summary._", "", marker].join("\n"));
  const existing = await findMarkedComment(octokit, ctx.deps.appId, run, marker);
  const id = existing ?? (await octokit.rest.issues.createComment({ owner: run.owner, repo: run.repo, issue_number: run.issueNumber, body })).data.id;
  await ctx.transcript.append("comment", { comment_id: id, purpose: "plan" });
  await ctx.stepDone("Posted the plan", { facts: { planCommentId: id } });
}

export async function verify(ctx: RunContext): Promise<void> {
  const { run, deps } = ctx;
  if (run.mode === "plan") {
    await postPlan(ctx);
    await ctx.moveTo("succeeded", { outcome: "The plan is posted below. Nothing was pushed." });
    return;
  }
  const { checkout, sha, files } = await buildCommit(ctx);
  if (!sha) {
    throw new StepFailure({ outcome: "The agent finished without changing any file, so there is nothing to propose.", title: "Agent output", detail: run.facts.agentOutputTail ?? "" });
  }
  const diff = await runGit(checkout, ["show", "--no-color", "--format=", sha]);
  await ctx.transcript.append("file_diff", { base: run.baseSha, commit: sha, files, diff: diff.slice(0, maxDiffEvent), truncated: diff.length > maxDiffEvent });
  const links = await symlinkTargets(checkout, run.baseSha ?? "HEAD", sha);
  const touched = protectedChanges(files.map((f) => ({ path: f.path, symlinkTarget: links.get(f.path) ?? null })), ctx.policy.rules.protected_paths);
  if (touched.length) {
    await ctx.transcript.append("policy_decision", { rule: "protected_paths", source: run.facts.policySources?.["protected_paths"], decision: "approval needed", paths: touched });
  }
  await ctx.update({ facts: { changedFiles: files, commitSha: sha, protectedChanges: touched, heldDiff: { ...heldDiff(ctx.redactor.text(diff)), notes: await unseenInDiff(checkout, run.baseSha ?? "HEAD", sha, links) } } });
  await ctx.stepDone(`Computed the diff: ${files.length} file${files.length === 1 ? "" : "s"} changed`);

  const config = run.facts.config;
  const testCommand = config?.test.command ?? null;
  if (!testCommand) {
    await ctx.update({ facts: { testCommand: null, testExitCode: null } });
    await holdOrPublish(ctx);
    return;
  }
  const freshSandbox = async (over?: OverlayLower): Promise<string> => {
    await deps.sandbox.removeVolume(run.id, "test");
    const created = await deps.sandbox.createVolume(run.id, "test", over ? { over } : {});
    await deps.sandbox.seedVolume({ runId: run.id, image: deps.env.BOSUN_AGENT_IMAGE, volume: created, mountPath: "/workspace", hostDir: checkout });
    return created;
  };
  let volume: string;
  // The tests run in the environment the agent had: the repository's setup first, on exactly the
  // commit under test (with the setup phase's network; its secrets only where the org lets them
  // reach the agent's code), in this fresh sandbox that never saw the agent's workspace.
  const setupCommand = config?.setup.command ?? null;
  if (setupCommand) {
    const setup = await setUpWorkspace(ctx, { command: setupCommand, checkout, commit: sha, forTests: true, tailLines: 40, fresh: freshSandbox });
    volume = setup.volume;
    await ctx.update({ facts: { testSetup: { command: setupCommand, cached: setup.cached, seconds: setup.seconds, tail: setup.ok ? setup.tail : "" } } });
    if (!setup.ok) {
      const why = setup.why;
      const tail = `The setup \`${setupCommand}\` ${why} on ${sha.slice(0, 7)} before the tests (the agent's own setup had passed), so \`${testCommand}\` did not run:\n\n${setup.tail}`;
      await ctx.transcript.append("test", { command: testCommand, exit_code: setup.exitCode ?? 1, timed_out: setup.timedOut, output_tail: tail, commit: sha, setup_failed: true });
      await ctx.stepDone(`Tests failed: the setup \`${setupCommand}\` ${why} on the agent's commit`, {
        facts: { testCommand, testExitCode: setup.exitCode === 0 ? 1 : setup.exitCode, testTimedOut: setup.timedOut, testOutputTail: tail },
      });
      await holdOrPublish(ctx);
      return;
    }
    await ctx.stepDone(setup.cached ? `Set up the tests' sandbox from the setup cache: \`${setupCommand}\` did not need to run` : `Set up the tests' sandbox: \`${setupCommand}\``);
  } else {
    volume = await freshSandbox();
  }
  const timeoutMinutes = ctx.policy.limits.test_minutes;
  const outcome = await runPhase(ctx, "test", {
    runId: run.id, role: "test", attempt: run.epoch, image: ctx.image, command: testCommand,
    volumes: { [volume]: "/workspace" }, timeoutMs: timeoutMinutes * 60_000,
  });
  const disk = outcome.disk ? `The tests ${diskStopText(ctx, outcome.disk).why}.\n\n` : "";
  const tail = disk + ctx.redactor.text(lastLines(outcome.outputTail, 40));
  await ctx.transcript.append("test", { command: testCommand, exit_code: outcome.exitCode, timed_out: outcome.timedOut, output_tail: tail, commit: sha, ...diskFields(outcome) });
  const passed = outcome.exitCode === 0 && !outcome.timedOut && !outcome.disk;
  const how = outcome.disk ? "stopped at the disk limit" : outcome.timedOut ? `timed out after ${timeoutMinutes} min` : `exit code ${outcome.exitCode}`;
  await ctx.stepDone(passed ? `Tests passed: \`${testCommand}\`` : `Tests failed: \`${testCommand}\` (${how})`, {
    facts: { testCommand, testExitCode: outcome.exitCode, testTimedOut: outcome.timedOut, testOutputTail: tail },
  });
  await holdOrPublish(ctx);
}

/**
 * The verified commit goes on to publishing only when nothing needs approving; otherwise the run
 * waits with the change shown on the issue (or the pull request, for a follow-up) and on the
 * dashboard, and nothing the agent wrote is on GitHub yet.
 */
async function holdOrPublish(ctx: RunContext): Promise<void> {
  const { run } = ctx;
  const hold = pushApprovalNeeded(run);
  await ctx.transcript.append("policy_decision", { rule: "push approval", decision: hold.needed && !hold.approved ? "held" : "publish", reason: hold.reason, commit: run.facts.commitSha ?? null });
  if (!hold.needed || hold.approved) return ctx.moveTo("publishing");
  const sha = (run.facts.commitSha ?? "").slice(0, 7);
  const files = run.facts.changedFiles ?? [];
  const tests = run.facts.testCommand
    ? (run.facts.testExitCode === 0 && !run.facts.testTimedOut ? `\`${run.facts.testCommand}\` passed on it` : `\`${run.facts.testCommand}\` failed on it (it would open as a draft with a failing check)`)
    : "no test command is configured";
  const tooLong = (run.facts.heldDiff?.length ?? 0) > maxDiffEvent
    ? ` Its diff is ${run.facts.heldDiff?.length ?? 0} characters, more than Bosun can show (${maxDiffEvent} on the dashboard): approve only what you could read.`
    : "";
  await ctx.moveTo("awaiting_push_approval", {
    outcome: `Bosun holds the agent's change (${sha}, ${files.length} file${files.length === 1 ? "" : "s"}; ${tests}) and has pushed nothing, because ${hold.reason}. Look at the change below; to publish exactly ${sha}, someone with write access other than @${run.requestedBy} comments \`/bosun approve\` here. \`/bosun cancel\` drops it.${tooLong}`,
  });
}

/**
 * The diff as the waiting comment shows it: hidden characters made visible, whole, or cut at a
 * line with a note (the dashboard's file_diff event holds up to 200,000 characters).
 */
function heldDiff(diff: string): { text: string; truncated: boolean; length: number } {
  const max = 30_000;
  const shown = revealHidden(diff);
  if (shown.length <= max) return { text: shown, truncated: false, length: diff.length };
  return { text: shown.slice(0, shown.lastIndexOf("\n", max) + 1), truncated: true, length: diff.length };
}

/** What a diff does not show as text, named so an approver looks: binary files, links, mode changes. */
async function unseenInDiff(checkout: string, base: string, sha: string, links: Map<string, string>): Promise<string[]> {
  const notes: string[] = [];
  for (const line of (await runGit(checkout, ["diff-tree", "-r", "--numstat", "--no-renames", base, sha])).split("\n")) {
    const [added, removed, ...path] = line.split("\t");
    if (added === "-" && removed === "-") notes.push(`binary file \`${revealHidden(path.join("\t"))}\` (its bytes are not shown)`);
  }
  for (const [path, target] of links) notes.push(`symbolic link \`${revealHidden(path)}\` → \`${revealHidden(target)}\``);
  for (const line of (await runGit(checkout, ["diff-tree", "-r", "--summary", "--no-renames", base, sha])).split("\n")) {
    const m = /^\s*mode change (\d+) => (\d+) (.*)$/.exec(line);
    if (m) notes.push(`mode of \`${revealHidden(m[3] ?? "")}\` ${m[1] ?? ""} → ${m[2] ?? ""}`);
  }
  return notes.slice(0, 50);
}

/** Symbolic links the commit adds or changes, with their targets as stored in git. */
async function symlinkTargets(checkout: string, base: string, sha: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const raw = await runGit(checkout, ["diff-tree", "-r", "-z", "--no-renames", "--raw", base, sha]);
  const parts = raw.split("\0");
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const [, newMode, , newSha] = (parts[i] ?? "").replace(/^:/, "").split(" ");
    const path = parts[i + 1] ?? "";
    if (newMode === "120000" && newSha) out.set(path, await runGit(checkout, ["cat-file", "blob", newSha]));
  }
  return out;
}

