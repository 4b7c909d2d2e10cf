// The offline GitHub's app authentication and git over smart HTTP, as a GitHub App sees them:
// tokens scoped to repositories and permissions, expiry, revocation, protected branches.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, writeFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { RequestError } from "@octokit/request-error";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { appJwt, octokitWith } from "../helpers/app-jwt.ts";
import { mintUserToken } from "./auth.ts";
import type { OfflineGitHub } from "./server.ts";

const run = promisify(execFile);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.test", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.test" };

async function git(cwd: string, ...args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const r = await run("git", args, { cwd, env: gitEnv });
    return { ok: true, out: r.stdout + r.stderr };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return { ok: false, out: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

async function world(t: Parameters<typeof startCheckedGitHub>[0]): Promise<{ gh: OfflineGitHub; installationId: number; work: string }> {
  const { gh } = await startCheckedGitHub(t);
  gh.createUser("maya");
  gh.createOrg("acme", { admins: ["maya"] });
  await gh.createRepo("acme/alpha", { files: { "README.md": "alpha\n" } });
  await gh.createRepo("acme/beta", { files: { "README.md": "beta\n" } });
  const installationId = gh.install("acme");
  const work = await mkdtemp(join(tmpdir(), "bosun-git-test-"));
  t?.after(() => rm(work, { recursive: true, force: true }));
  return { gh, installationId, work };
}

async function mint(gh: OfflineGitHub, installationId: number, body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${gh.url}/app/installations/${installationId}/access_tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${appJwt(gh.appId, gh.privateKey)}`, accept: "application/vnd.github+json", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}

async function status(p: Promise<{ status: number }>): Promise<number> {
  try {
    return (await p).status;
  } catch (e) {
    if (e instanceof RequestError) return e.status;
    throw e;
  }
}

test("a token scoped to repository A clones and pushes A and is refused on B", async (t) => {
  const { gh, installationId, work } = await world(t);
  const token = await mint(gh, installationId, { repositories: ["alpha"], permissions: { contents: "write" } });
  const a = join(work, "a");
  assert.ok((await git(work, "clone", gh.cloneUrl("acme/alpha", token), a)).ok);
  await writeFile(join(a, "NEW.md"), "new\n");
  await git(a, "add", "NEW.md");
  await git(a, "commit", "-m", "Add NEW.md");
  await git(a, "checkout", "-b", "bosun/1-new");
  const push = await git(a, "push", "origin", "bosun/1-new");
  assert.ok(push.ok, push.out);
  assert.equal(await gh.fileAt("acme/alpha", "bosun/1-new", "NEW.md"), "new\n");

  const b = await git(work, "clone", gh.cloneUrl("acme/beta", token), join(work, "b"));
  assert.equal(b.ok, false);
  assert.match(b.out, /Repository not found|not found/i);
  const api = octokitWith(gh.url, token);
  assert.equal(await status(api.rest.repos.get({ owner: "acme", repo: "beta" })), 404);
  assert.equal(await status(api.rest.repos.get({ owner: "acme", repo: "alpha" })), 200);
});

test("a contents:read token clones but cannot push, and cannot write issues", async (t) => {
  const { gh, installationId, work } = await world(t);
  const token = await mint(gh, installationId, { repositories: ["alpha"], permissions: { contents: "read" } });
  const a = join(work, "a");
  assert.ok((await git(work, "clone", gh.cloneUrl("acme/alpha", token), a)).ok);
  await writeFile(join(a, "X.md"), "x\n");
  await git(a, "add", "X.md");
  await git(a, "commit", "-m", "x");
  const push = await git(a, "push", "origin", "HEAD:refs/heads/bosun/x");
  assert.equal(push.ok, false);
  assert.match(push.out, /denied|403/);
  assert.equal(await gh.branchSha("acme/alpha", "bosun/x"), null);
  const api = octokitWith(gh.url, token);
  assert.equal(await status(api.rest.issues.create({ owner: "acme", repo: "alpha", title: "nope" })), 403);
});

test("permissions beyond the installation's and repositories outside it are refused at minting", async (t) => {
  const { gh } = await world(t);
  gh.createOrg("other");
  await gh.createRepo("other/gamma", { files: { "a.txt": "a" } });
  const limited = gh.install("other", { repositories: ["gamma"], permissions: { contents: "read", metadata: "read" } });
  const jwt = appJwt(gh.appId, gh.privateKey);
  const post = (id: number, body: object): Promise<Response> => fetch(`${gh.url}/app/installations/${id}/access_tokens`, {
    method: "POST", headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" }, body: JSON.stringify(body),
  });
  const tooMuch = await post(limited, { permissions: { contents: "write" } });
  assert.equal(tooMuch.status, 422);
  assert.match(((await tooMuch.json()) as { message: string }).message, /not granted to this installation/);
  const elsewhere = await post(limited, { repositories: ["alpha"] });
  assert.equal(elsewhere.status, 422);
  const forged = await fetch(`${gh.url}/app/installations/${limited}/access_tokens`, {
    method: "POST", headers: { authorization: `Bearer ${appJwt(gh.appId, (await import("node:crypto")).generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }).toString())}` },
  });
  assert.equal(forged.status, 401, "a JWT signed with another key is refused");
});

test("an expired or revoked token is refused for git and REST", async (t) => {
  const { gh, installationId, work } = await world(t);
  const expiring = await mint(gh, installationId, { repositories: ["alpha"], permissions: { contents: "read" } });
  const revoked = await mint(gh, installationId, { repositories: ["alpha"], permissions: { contents: "read" } });
  const api = octokitWith(gh.url, revoked);
  assert.equal(await status(api.request("DELETE /installation/token")), 204);
  assert.equal(await status(api.rest.repos.get({ owner: "acme", repo: "alpha" })), 401);
  assert.equal((await git(work, "clone", gh.cloneUrl("acme/alpha", revoked), join(work, "r"))).ok, false);

  assert.ok((await git(work, "clone", gh.cloneUrl("acme/alpha", expiring), join(work, "e1"))).ok);
  gh.advanceClock(61 * 60 * 1000);
  assert.equal((await git(work, "clone", gh.cloneUrl("acme/alpha", expiring), join(work, "e2"))).ok, false);
  assert.equal(await status(octokitWith(gh.url, expiring).rest.repos.get({ owner: "acme", repo: "alpha" })), 401);
  const log = gh.installationTokens().find((x) => x.token === revoked);
  assert.ok(log?.revokedAt, "the token log shows the revocation");
});

test("a push to a protected branch is refused, a push of a workflow without the workflows permission too", async (t) => {
  const { gh, installationId, work } = await world(t);
  gh.protectBranch("acme/alpha", "main", { requiredPullRequestReviews: { requiredApprovingReviewCount: 1, requireCodeOwnerReviews: false, dismissStaleReviews: false } });
  const token = await mint(gh, installationId, { repositories: ["alpha"], permissions: { contents: "write" } });
  const a = join(work, "a");
  await git(work, "clone", gh.cloneUrl("acme/alpha", token), a);
  const before = await gh.branchSha("acme/alpha", "main");
  await writeFile(join(a, "Y.md"), "y\n");
  await git(a, "add", "Y.md");
  await git(a, "commit", "-m", "y");
  const push = await git(a, "push", "origin", "HEAD:main");
  assert.equal(push.ok, false);
  assert.match(push.out, /GH006: Protected branch update failed/);
  assert.equal(await gh.branchSha("acme/alpha", "main"), before);

  await git(a, "reset", "--hard", "origin/main");
  await run("mkdir", ["-p", join(a, ".github/workflows")]);
  await writeFile(join(a, ".github/workflows/ci.yml"), "on: push\n");
  await git(a, "add", ".");
  await git(a, "commit", "-m", "ci");
  const wf = await git(a, "push", "origin", "HEAD:refs/heads/bosun/ci");
  assert.equal(wf.ok, false);
  assert.match(wf.out, /without `workflows` permission/);
});

test("a user access token (ghu_) reaches only what both the user and the app may, for git and REST", async (t) => {
  const { gh, work } = await world(t);
  gh.createOrg("other", { admins: ["maya"] });
  await gh.createRepo("other/gamma", { files: { "a.txt": "a\n" } });
  await gh.createRepo("other/delta", { files: { "d.txt": "d\n" } });
  gh.install("other", { repositories: ["delta"], permissions: { contents: "read", metadata: "read" } });
  const token = mintUserToken(gh.world, "maya", "ghu").token;
  const api = octokitWith(gh.url, token);

  // maya is admin of both orgs; the app sees acme's repositories and other/delta, read-only there.
  assert.equal(await status(api.rest.repos.get({ owner: "other", repo: "gamma" })), 404);
  assert.equal(await status(api.rest.repos.get({ owner: "other", repo: "delta" })), 200);
  assert.equal(await status(api.rest.issues.create({ owner: "other", repo: "delta", title: "nope" })), 403);
  assert.equal(await status(api.rest.issues.create({ owner: "acme", repo: "alpha", title: "yes" })), 201);
  const gamma = await git(work, "clone", gh.cloneUrl("other/gamma", token), join(work, "g"));
  assert.equal(gamma.ok, false);
  assert.match(gamma.out, /not found/i);
  assert.ok((await git(work, "clone", gh.cloneUrl("other/gamma", gh.userToken("maya")), join(work, "g2"))).ok, "her personal token clones it");

  const d = join(work, "d");
  assert.ok((await git(work, "clone", gh.cloneUrl("other/delta", token), d)).ok);
  await writeFile(join(d, "X.md"), "x\n");
  await git(d, "add", "X.md");
  await git(d, "commit", "-m", "x");
  const push = await git(d, "push", "origin", "HEAD:refs/heads/x");
  assert.equal(push.ok, false, "the app may only read other/delta, whatever maya may");
  assert.match(push.out, /denied|403/);
});
