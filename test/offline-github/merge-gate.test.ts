// Branch protection at the merge button (`PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge`), as
// GitHub enforces it: required status checks, approving reviews from people with write access,
// code-owner review, admins included when `enforce_admins` is on. The pull request is Bosun's:
// pushed over git with an installation token and opened by the app.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Octokit } from "@octokit/rest";
import { RequestError } from "@octokit/request-error";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { appJwt, octokitWith } from "../helpers/app-jwt.ts";
import type { OfflineGitHub } from "./server.ts";

const run = promisify(execFile);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.test", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.test" };

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run("git", args, { cwd, env: gitEnv })).stdout.trim();
}

const R = { owner: "acme", repo: "app" };

interface Gate {
  gh: OfflineGitHub;
  /** Acts with the publish-phase installation token (contents, pull requests, checks: write). */
  bot: Octokit;
  clone: string;
  /** Pushes a change to `src/` on `branch` (from main when new), as the app or the named person; returns the new head. */
  push: (branch: string, content: string, as?: string) => Promise<string>;
  /** Opens Bosun's pull request from a freshly pushed branch. */
  open: (branch: string, o?: { draft?: boolean }) => Promise<{ number: number; head: string }>;
  /** Completes a `bosun` check run on `sha`. */
  check: (sha: string, conclusion: "success" | "failure") => Promise<void>;
}

/**
 * acme/app: `src/` is owned by the team acme/core (owen). wes writes but owns nothing, rita only
 * reads, maya is an org admin. main wants the `bosun` check, one approval and the code owner's,
 * and admins are not exempt.
 */
async function gate(t: TestContext, reviews: { dismissStaleReviews?: boolean; requireLastPushApproval?: boolean } = {}): Promise<Gate> {
  const { gh } = await startCheckedGitHub(t);
  for (const u of ["maya", "owen", "wes", "rita"]) gh.createUser(u);
  gh.createOrg("acme", { admins: ["maya"], members: ["owen", "wes", "rita"] });
  await gh.createRepo("acme/app", { files: { "README.md": "app\n", "src/index.ts": "export const v = 0;\n", ".github/CODEOWNERS": "/src/ @acme/core\n" } });
  gh.createTeam("acme", "core", { members: ["owen"], repos: { "acme/app": "write" } });
  gh.addCollaborator("acme/app", "wes", "write");
  gh.addCollaborator("acme/app", "rita", "read");
  gh.protectBranch("acme/app", "main", {
    requiredStatusChecks: { strict: false, contexts: ["bosun"] },
    requiredPullRequestReviews: { requiredApprovingReviewCount: 1, requireCodeOwnerReviews: true, dismissStaleReviews: false, ...reviews },
    enforceAdmins: true,
  });
  const installationId = gh.install("acme");
  const res = await octokitWith(gh.url, appJwt(gh.appId, gh.privateKey)).request("POST /app/installations/{installation_id}/access_tokens", {
    installation_id: installationId, repositories: ["app"], permissions: { contents: "write", pull_requests: "write", checks: "write" },
  });
  const token = res.data.token;
  const bot = octokitWith(gh.url, token);
  const work = await mkdtemp(join(tmpdir(), "offline-github-merge-gate-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const clone = join(work, "app");
  await git(work, "clone", "--quiet", gh.cloneUrl("acme/app", token), clone);
  const push = async (branch: string, content: string, as?: string): Promise<string> => {
    const exists = await git(clone, "branch", "--list", branch);
    await git(clone, "checkout", "--quiet", ...(exists ? [branch] : ["-b", branch, "origin/main"]));
    await writeFile(join(clone, "src/index.ts"), content);
    await git(clone, "commit", "--quiet", "-am", `Change src on ${branch}`);
    await git(clone, "push", "--quiet", as ? gh.cloneUrl("acme/app", gh.userToken(as)) : "origin", `${branch}:${branch}`);
    return git(clone, "rev-parse", "HEAD");
  };
  return {
    gh, bot, clone, push,
    open: async (branch, o = {}) => {
      const head = await push(branch, `export const v = ${JSON.stringify(branch)};\n`);
      const pr = await bot.rest.pulls.create({ ...R, title: `Bosun: ${branch}`, head: branch, base: "main", draft: o.draft ?? false });
      assert.equal(pr.data.user?.login, "bosun[bot]");
      return { number: pr.data.number, head };
    },
    check: async (sha, conclusion) => {
      await bot.rest.checks.create({ ...R, name: "bosun", head_sha: sha, status: "completed", conclusion, output: { title: conclusion, summary: `Tests: ${conclusion}.` } });
    },
  };
}

/** The merge as `login` would press it: the status and message GitHub answers with. */
async function merge(gh: OfflineGitHub, login: string, pull: number, sha?: string): Promise<{ status: number; message: string }> {
  try {
    const res = await gh.as(login).rest.pulls.merge({ ...R, pull_number: pull, ...(sha ? { sha } : {}) });
    return { status: res.status, message: res.data.message };
  } catch (e) {
    if (!(e instanceof RequestError)) throw e;
    return { status: e.status, message: String((e.response?.data as { message?: unknown } | undefined)?.message) };
  }
}

async function review(gh: OfflineGitHub, login: string, pull: number, event: "APPROVE" | "REQUEST_CHANGES"): Promise<void> {
  await gh.as(login).rest.pulls.createReview({ ...R, pull_number: pull, event, ...(event === "APPROVE" ? {} : { body: "Please change this." }) });
}

const CHECK_EXPECTED = 'Required status check "bosun" is expected.';
const CHECK_FAILING = 'Required status check "bosun" is failing.';
const NEED_APPROVAL = "At least 1 approving review is required by reviewers with write access.";
const NEED_OWNER = "Waiting on code owner review from @acme/core.";

test("Bosun's pull request merges only once the check passed and a code owner approved", async (t) => {
  const { gh, bot, clone, open, check } = await gate(t);
  const pr = await open("bosun/7-greeting");
  const before = await gh.branchSha("acme/app", "main");

  const bare = await merge(gh, "wes", pr.number);
  assert.equal(bare.status, 405);
  for (const m of [CHECK_EXPECTED, NEED_APPROVAL, NEED_OWNER]) assert.ok(bare.message.includes(m), `refusal names "${m}": ${bare.message}`);
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.mergeable_state, "blocked");
  assert.equal((await merge(gh, "maya", pr.number)).status, 405, "an org admin is held too: admins are not exempt here");

  await check(pr.head, "success");
  const checked = await merge(gh, "wes", pr.number);
  assert.equal(checked.status, 405);
  assert.ok(!checked.message.includes('"bosun"'), `the passing check is no longer named: ${checked.message}`);
  assert.ok(checked.message.includes(NEED_APPROVAL) && checked.message.includes(NEED_OWNER), checked.message);

  // The app opened the pull request, so it cannot approve it.
  const own = await bot.rest.pulls.createReview({ ...R, pull_number: pr.number, event: "APPROVE" }).catch((e: unknown) => e);
  assert.ok(own instanceof RequestError);
  assert.equal(own.status, 422);
  assert.deepEqual((own.response?.data as { errors?: unknown }).errors, ["Can not approve your own pull request"]);

  await review(gh, "wes", pr.number, "APPROVE");
  const approved = await merge(gh, "wes", pr.number);
  assert.equal(approved.status, 405);
  assert.ok(!approved.message.includes(NEED_APPROVAL), `a writer's approval counts as an approval: ${approved.message}`);
  assert.ok(approved.message.includes(NEED_OWNER), `but not as the code owner's: ${approved.message}`);
  assert.equal(await gh.branchSha("acme/app", "main"), before, "nothing reached main while refused");

  await review(gh, "owen", pr.number, "APPROVE");
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.mergeable_state, "clean");
  const done = await merge(gh, "wes", pr.number, pr.head);
  assert.deepEqual(done, { status: 200, message: "Pull Request successfully merged" });

  await git(clone, "fetch", "--quiet", "origin");
  assert.equal(await git(clone, "show", "origin/main:src/index.ts"), 'export const v = "bosun/7-greeting";');
  await git(clone, "merge-base", "--is-ancestor", pr.head, "origin/main");
  const after = await bot.rest.pulls.get({ ...R, pull_number: pr.number });
  assert.equal(after.data.merged, true);
  assert.equal(after.data.merged_by?.login, "wes");
  assert.equal(after.data.state, "closed");

  await gh.hooks.settled();
  const closed = gh.hooks.deliveries.filter((d) => d.event === "pull_request" && d.action === "closed");
  assert.equal(closed.length, 1);
  const payload = closed[0]?.payload as { number: number; pull_request: { merged: boolean; merge_commit_sha: string | null }; sender: { login: string } };
  assert.equal(payload.number, pr.number);
  assert.equal(payload.pull_request.merged, true);
  assert.equal(payload.pull_request.merge_commit_sha, await gh.branchSha("acme/app", "main"));
  assert.equal(payload.sender.login, "wes");
});

test("a failing check keeps the merge refused until a newer run passes", async (t) => {
  const { gh, open, check } = await gate(t);
  const pr = await open("bosun/8-failing");
  await review(gh, "owen", pr.number, "APPROVE");
  await check(pr.head, "failure");
  const refused = await merge(gh, "wes", pr.number);
  assert.equal(refused.status, 405);
  assert.ok(refused.message.includes(CHECK_FAILING), refused.message);
  assert.ok(!refused.message.includes(NEED_APPROVAL) && !refused.message.includes(NEED_OWNER), refused.message);
  await check(pr.head, "success");
  assert.equal((await merge(gh, "wes", pr.number)).status, 200);
});

test("a passing check on an older commit does not count for the new head", async (t) => {
  const { gh, push, open, check } = await gate(t);
  const pr = await open("bosun/9-moving");
  await check(pr.head, "success");
  await review(gh, "owen", pr.number, "APPROVE");
  const newHead = await push("bosun/9-moving", "export const v = 9;\n");
  assert.notEqual(newHead, pr.head);
  const refused = await merge(gh, "wes", pr.number);
  assert.equal(refused.status, 405);
  assert.ok(refused.message.includes(CHECK_EXPECTED), refused.message);
});

test("a draft pull request is refused, and so is a merge naming a stale head", async (t) => {
  const { gh, bot, push, open, check } = await gate(t);
  const draft = await open("bosun/10-draft", { draft: true });
  await check(draft.head, "success");
  await review(gh, "owen", draft.number, "APPROVE");
  assert.deepEqual(await merge(gh, "wes", draft.number), { status: 405, message: "Pull Request is still a draft" });
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: draft.number })).data.mergeable_state, "draft");

  const pr = await open("bosun/11-stale");
  await check(pr.head, "success");
  await review(gh, "owen", pr.number, "APPROVE");
  const moved = await push("bosun/11-stale", "export const v = 11;\n");
  await check(moved, "success");
  assert.deepEqual(await merge(gh, "wes", pr.number, pr.head), { status: 409, message: "Head branch was modified. Review and try the merge again." });
  assert.equal((await merge(gh, "wes", pr.number, moved)).status, 200);
});

test("an approval from someone without write access does not satisfy the protection", async (t) => {
  const { gh, open, check } = await gate(t);
  const pr = await open("bosun/12-reader");
  await check(pr.head, "success");
  await review(gh, "rita", pr.number, "APPROVE");
  const refused = await merge(gh, "wes", pr.number);
  assert.equal(refused.status, 405);
  assert.ok(refused.message.includes(NEED_APPROVAL), `rita reads only: ${refused.message}`);
  assert.ok(refused.message.includes(NEED_OWNER), refused.message);
  const rita = await merge(gh, "rita", pr.number);
  assert.equal(rita.status, 403, "nor may she merge");
});

test("changes requested by a writer hold the merge even after the code owner approved", async (t) => {
  const { gh, open, check } = await gate(t);
  const pr = await open("bosun/13-changes");
  await check(pr.head, "success");
  await review(gh, "owen", pr.number, "APPROVE");
  await review(gh, "wes", pr.number, "REQUEST_CHANGES");
  const refused = await merge(gh, "maya", pr.number);
  assert.equal(refused.status, 405);
  assert.match(refused.message, /Changes requested/);
  await review(gh, "wes", pr.number, "APPROVE");
  assert.equal((await merge(gh, "maya", pr.number)).status, 200);
});

const NEED_FRESH = /Approval of the most recent reviewable push is required from someone other than its pusher \((\S+)\)\./;

test("without dismiss_stale_reviews an approval of an older commit still counts, as on GitHub", async (t) => {
  const { gh, push, open, check } = await gate(t);
  const pr = await open("bosun/14-keeps");
  await review(gh, "owen", pr.number, "APPROVE");
  await check(await push("bosun/14-keeps", "export const v = 14;\n"), "success");
  assert.equal((await merge(gh, "wes", pr.number)).status, 200);
});

test("with dismiss_stale_reviews a push to the head dismisses the approval and the merge is refused until a new one", async (t) => {
  const { gh, bot, push, open, check } = await gate(t, { dismissStaleReviews: true });
  const pr = await open("bosun/15-stale");
  await check(pr.head, "success");
  await review(gh, "owen", pr.number, "APPROVE");
  await review(gh, "wes", pr.number, "REQUEST_CHANGES");
  await review(gh, "wes", pr.number, "APPROVE");
  const moved = await push("bosun/15-stale", "export const v = 15;\n");
  await check(moved, "success");

  const reviews = (await bot.rest.pulls.listReviews({ ...R, pull_number: pr.number })).data;
  assert.deepEqual(reviews.map((rv) => [rv.user?.login, rv.state]), [["owen", "DISMISSED"], ["wes", "CHANGES_REQUESTED"], ["wes", "DISMISSED"]], "approvals go; a request for changes stays as it was");
  const refused = await merge(gh, "maya", pr.number);
  assert.equal(refused.status, 405);
  assert.ok(refused.message.includes(NEED_APPROVAL) && refused.message.includes(NEED_OWNER), refused.message);
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.mergeable_state, "blocked");

  await gh.hooks.settled();
  const dismissed = gh.hooks.deliveries.filter((d) => d.event === "pull_request_review" && d.action === "dismissed");
  assert.equal(dismissed.length, 2, "one dismissed event per stale approval");
  const payload = dismissed[0]?.payload as { review: { state: string; user: { login: string } }; sender: { login: string }; pull_request: { number: number } };
  assert.deepEqual([payload.review.state, payload.review.user.login, payload.sender.login, payload.pull_request.number], ["dismissed", "owen", "bosun[bot]", pr.number]);

  await review(gh, "owen", pr.number, "APPROVE");
  assert.equal((await merge(gh, "maya", pr.number)).status, 200);
});

test("with require_last_push_approval the last pusher's approval does not count, nor one given before the last push", async (t) => {
  const { gh, bot, push, open, check } = await gate(t, { requireLastPushApproval: true });
  const state = async (): Promise<string | undefined> => (await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.mergeable_state;
  const pr = await open("bosun/16-last-push");
  assert.equal(gh.lastPusher("acme/app", "bosun/16-last-push"), "bosun[bot]");
  await check(pr.head, "success");
  await review(gh, "owen", pr.number, "APPROVE");
  assert.equal(await state(), "clean", "owen approved the app's push");

  // owen, the code owner, pushes to the head himself: his approval no longer counts, even renewed.
  const owens = await push("bosun/16-last-push", "export const v = 16;\n", "owen");
  assert.equal(gh.lastPusher("acme/app", "bosun/16-last-push"), "owen");
  await check(owens, "success");
  await review(gh, "owen", pr.number, "APPROVE");
  const own = await merge(gh, "maya", pr.number);
  assert.equal(own.status, 405);
  assert.equal(NEED_FRESH.exec(own.message)?.[1], "owen", own.message);
  assert.ok(own.message.includes(NEED_APPROVAL) && own.message.includes(NEED_OWNER), own.message);

  // wes approves owen's push: the push is approved, but code owner review still waits on someone other than owen.
  await review(gh, "wes", pr.number, "APPROVE");
  const byWes = await merge(gh, "maya", pr.number);
  assert.equal(byWes.status, 405);
  assert.ok(!NEED_FRESH.test(byWes.message) && !byWes.message.includes(NEED_APPROVAL), byWes.message);
  assert.ok(byWes.message.includes(NEED_OWNER), byWes.message);

  // The app pushes again: owen's approval of the older commit counts toward the code owner review
  // (stale approvals are kept here), but the newest push needs an approval of its own.
  const again = await push("bosun/16-last-push", "export const v = 160;\n");
  await check(again, "success");
  const stale = await merge(gh, "maya", pr.number);
  assert.equal(stale.status, 405);
  assert.equal(NEED_FRESH.exec(stale.message)?.[1], "bosun[bot]", stale.message);
  assert.ok(!stale.message.includes(NEED_OWNER), stale.message);
  await review(gh, "owen", pr.number, "APPROVE");
  assert.equal((await merge(gh, "maya", pr.number)).status, 200);
});
