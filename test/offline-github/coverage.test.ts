// Every REST operation the offline GitHub serves and every webhook it sends, driven once each the
// way Bosun meets them (the app's JWT, installation tokens, people's tokens, real git pushes), with
// every answer checked against GitHub's published descriptions. A route added without being
// covered here fails this test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, type IncomingHttpHeaders } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { RequestError } from "@octokit/request-error";
import { Octokit } from "@octokit/rest";
import { verify } from "@octokit/webhooks-methods";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { appJwt, octokitWith } from "../helpers/app-jwt.ts";
import { createAppFromManifest } from "../helpers/manifest-flow.ts";
import { sentWebhookEvents, servedOperations } from "./server.ts";

const run = promisify(execFile);
const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.test", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.test" };

async function git(cwd: string, ...args: string[]): Promise<string> {
  const r = await run("git", args, { cwd, env: gitEnv });
  return r.stdout + r.stderr;
}

/** The error GitHub answered with, or a failure when the call succeeded. */
async function refused(p: Promise<unknown>): Promise<RequestError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RequestError) return e;
    throw e;
  }
  assert.fail("the call was expected to be refused");
}

const errorMessage = (e: RequestError): string => String((e.response?.data as { message?: unknown } | undefined)?.message);

interface Received { headers: IncomingHttpHeaders; body: string; signatureValid: boolean }

/** A webhook receiver on loopback that records each delivery and checks its signature. */
async function startReceiver(secret: () => string): Promise<{ url: string; received: Received[]; close: () => Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const signature = req.headers["x-hub-signature-256"];
      void (typeof signature === "string" ? verify(secret(), body, signature) : Promise.resolve(false)).then((ok) => {
        received.push({ headers: req.headers, body, signatureValid: ok });
        res.writeHead(ok ? 200 : 401).end();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks`,
    received,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

test("every served operation and every sent webhook is exercised and matches GitHub's descriptions", async (t) => {
  let secret = "";
  const receiver = await startReceiver(() => secret);
  t.after(() => receiver.close());
  const answers: { what: string; headers: Record<string, string> }[] = [];
  const { gh, seen, problems } = await startCheckedGitHub(t, {
    webhookUrl: receiver.url,
    onResponse: (r) => answers.push({ what: `${r.method} ${r.route} ${r.status}`, headers: r.headers }),
  });
  secret = gh.webhookSecret;
  const work = await mkdtemp(join(tmpdir(), "offline-github-coverage-"));
  t.after(() => rm(work, { recursive: true, force: true }));

  // The world: an org with an admin who owns everything (team core), a writer, a repository whose
  // main branch wants the `bosun` check and a code owner's approval.
  gh.createUser("maya");
  gh.createUser("wes");
  gh.createOrg("acme", { admins: ["maya"], members: ["wes"] });
  await gh.createRepo("acme/alpha", { files: { "README.md": "alpha\n", "src/app.ts": "export const x = 1;\n", ".github/CODEOWNERS": "* @acme/core\n" } });
  await gh.createRepo("acme/beta", { files: { "README.md": "beta\n" } });
  gh.addCollaborator("acme/alpha", "wes", "write");
  gh.createTeam("acme", "core", { members: ["maya"], repos: { "acme/alpha": "maintain" } });
  gh.protectBranch("acme/alpha", "main", {
    requiredStatusChecks: { strict: false, contexts: ["bosun"] },
    requiredPullRequestReviews: { requiredApprovingReviewCount: 1, requireCodeOwnerReviews: true, dismissStaleReviews: false },
  });
  // Bosun's manifest does not subscribe to review comments; this installation does, so they are sent and checked.
  const installationId = gh.install("acme", { events: [...gh.world.app.events, "pull_request_review_comment"] });
  const R = { owner: "acme", repo: "alpha" };

  // ---- the app, with its JWT -------------------------------------------------------------------
  const app = octokitWith(gh.url, appJwt(gh.appId, gh.privateKey));
  assert.equal((await app.request("GET /app")).data?.slug, "bosun");
  assert.deepEqual((await app.request("GET /app/installations")).data.map((i) => i.id), [installationId]);
  assert.equal((await app.request("GET /app/installations/{installation_id}", { installation_id: installationId })).data.account?.html_url, `${gh.url}/acme`);
  assert.equal((await app.request("GET /repos/{owner}/{repo}/installation", R)).data.id, installationId);
  assert.equal((await app.request("GET /orgs/{org}/installation", { org: "acme" })).data.id, installationId);
  const mint = async (body: Record<string, unknown>): Promise<string> => {
    const res = await app.request("POST /app/installations/{installation_id}/access_tokens", { installation_id: installationId, ...body });
    assert.equal(res.status, 201);
    return res.data.token;
  };
  const botToken = await mint({});
  const bot = octokitWith(gh.url, botToken);
  const readOnly = octokitWith(gh.url, await mint({ repositories: ["alpha"], permissions: { contents: "read" } }));
  const throwaway = octokitWith(gh.url, await mint({ repositories: ["beta"], permissions: { contents: "read" } }));

  // ---- the installation: repositories, contents, branches, people ------------------------------
  const repos = await bot.request("GET /installation/repositories");
  assert.deepEqual(repos.data.repositories.map((r) => r.full_name), ["acme/alpha", "acme/beta"]);
  assert.equal((await throwaway.request("GET /installation/repositories")).data.total_count, 1);
  assert.equal((await throwaway.request("DELETE /installation/token")).status, 204);
  assert.equal((await refused(throwaway.request("GET /installation/repositories"))).status, 401);

  const repo = await bot.rest.repos.get(R);
  assert.equal(repo.data.default_branch, "main");
  assert.equal(repo.headers["x-ratelimit-resource"], "core");
  assert.equal(repo.headers["x-ratelimit-limit"], "5000");
  assert.equal(Number(repo.headers["x-ratelimit-limit"]), Number(repo.headers["x-ratelimit-remaining"]) + Number(repo.headers["x-ratelimit-used"]));
  assert.ok(Number(repo.headers["x-ratelimit-reset"]) > Date.now() / 1000, "the window resets in the future (epoch seconds)");
  const readme = await bot.rest.repos.getContent({ ...R, path: "README.md" });
  assert.ok(!Array.isArray(readme.data) && readme.data.type === "file" && Buffer.from(readme.data.content ?? "", "base64").toString() === "alpha\n");
  const raw = await bot.rest.repos.getContent({ ...R, path: "README.md", mediaType: { format: "raw" } });
  assert.equal(String(raw.data as unknown), "alpha\n");
  const branch = await bot.rest.repos.getBranch({ ...R, branch: "main" });
  assert.equal(branch.data.protected, true);
  const protection = await bot.rest.repos.getBranchProtection({ ...R, branch: "main" });
  assert.deepEqual(protection.data.required_status_checks?.contexts, ["bosun"]);
  assert.equal(protection.data.required_pull_request_reviews?.require_code_owner_reviews, true);
  const mainRef = await bot.rest.git.getRef({ ...R, ref: "heads/main" });
  assert.equal(mainRef.data.object.sha, branch.data.commit.sha);
  assert.equal((await bot.rest.repos.getCollaboratorPermissionLevel({ ...R, username: "wes" })).data.permission, "write");
  assert.equal((await bot.rest.orgs.checkMembershipForUser({ org: "acme", username: "wes" })).status, 204);
  assert.equal((await bot.rest.teams.getMembershipForUserInOrg({ org: "acme", team_slug: "core", username: "maya" })).data.state, "active");

  // ---- the signed-in user, as a dashboard asks -----------------------------------------------------
  const maya = gh.as("maya");
  // An admin sets the protection over REST, require_last_push_approval included, and sets it back.
  const protect = (lastPush: boolean): Promise<unknown> => maya.rest.repos.updateBranchProtection({
    ...R, branch: "main", enforce_admins: false, restrictions: null,
    required_status_checks: { strict: false, contexts: ["bosun"] },
    required_pull_request_reviews: { required_approving_review_count: 1, require_code_owner_reviews: true, dismiss_stale_reviews: false, require_last_push_approval: lastPush },
  });
  await protect(true);
  assert.equal((await maya.rest.repos.getBranchProtection({ ...R, branch: "main" })).data.required_pull_request_reviews?.require_last_push_approval, true);
  assert.equal(gh.repo("acme/alpha").protection.get("main")?.requiredPullRequestReviews?.requireLastPushApproval, true);
  await protect(false);
  assert.equal((await maya.rest.users.getAuthenticated()).data.login, "maya");
  assert.equal((await maya.rest.orgs.getMembershipForAuthenticatedUser({ org: "acme" })).data.role, "admin");
  assert.equal((await gh.as("wes").rest.orgs.getMembershipForAuthenticatedUser({ org: "acme" })).data.role, "member");
  assert.equal((await refused(maya.rest.orgs.getMembershipForAuthenticatedUser({ org: "bosun-dev" }))).status, 404);
  assert.equal((await refused(bot.rest.users.getAuthenticated())).status, 403);

  // ---- issues, labels, comments, reactions -------------------------------------------------------
  const issue = (await maya.rest.issues.create({ ...R, title: "Add a greeting", body: "Please." })).data;
  assert.equal(issue.user?.login, "maya");
  assert.equal((await bot.rest.issues.get({ ...R, issue_number: issue.number })).data.title, "Add a greeting");
  await bot.rest.issues.update({ ...R, issue_number: issue.number, title: "Add a friendly greeting" });
  assert.equal((await maya.rest.issues.update({ ...R, issue_number: issue.number, state: "closed" })).data.state, "closed");
  assert.equal((await maya.rest.issues.update({ ...R, issue_number: issue.number, state: "open" })).data.state_reason, "reopened");
  assert.equal((await bot.rest.issues.createLabel({ ...R, name: "bosun", color: "0e8a16", description: "Bosun works on it" })).status, 201);
  assert.equal((await bot.rest.issues.getLabel({ ...R, name: "bosun" })).data.color, "0e8a16");
  assert.deepEqual((await maya.rest.issues.addLabels({ ...R, issue_number: issue.number, labels: ["bosun"] })).data.map((l) => l.name), ["bosun"]);
  assert.deepEqual((await maya.rest.issues.removeLabel({ ...R, issue_number: issue.number, name: "bosun" })).data, []);
  const comment = (await bot.rest.issues.createComment({ ...R, issue_number: issue.number, body: "Working on it." })).data;
  assert.equal(comment.performed_via_github_app?.slug, "bosun");
  assert.equal((await bot.rest.issues.getComment({ ...R, comment_id: comment.id })).data.body, "Working on it.");
  assert.equal((await bot.rest.issues.updateComment({ ...R, comment_id: comment.id, body: "Done." })).data.body, "Done.");
  assert.equal((await bot.rest.reactions.createForIssue({ ...R, issue_number: issue.number, content: "eyes" })).status, 201);
  assert.equal((await maya.rest.reactions.createForIssueComment({ ...R, comment_id: comment.id, content: "+1" })).status, 201);

  // Pagination: 35 comments, ten a page.
  const chatty = (await maya.rest.issues.create({ ...R, title: "Chatty" })).data;
  for (let n = 1; n <= 35; n++) await bot.rest.issues.createComment({ ...R, issue_number: chatty.number, body: `comment ${n}` });
  const first = await bot.rest.issues.listComments({ ...R, issue_number: chatty.number, per_page: 10 });
  assert.equal(first.data.length, 10);
  assert.match(first.headers.link ?? "", /[?&]page=2[^>]*>; rel="next"/);
  assert.match(first.headers.link ?? "", /[?&]page=4[^>]*>; rel="last"/);
  const all = await bot.paginate(bot.rest.issues.listComments, { ...R, issue_number: chatty.number, per_page: 10 });
  assert.deepEqual(all.map((c) => c.body), Array.from({ length: 35 }, (_, i) => `comment ${i + 1}`));

  // ---- a pull request from a pushed branch --------------------------------------------------------
  const clone = join(work, "alpha");
  await git(work, "clone", gh.cloneUrl("acme/alpha", botToken), clone);
  await git(clone, "checkout", "-b", "bosun/1-greeting");
  await writeFile(join(clone, "src/app.ts"), "export const x = 1;\nexport const hello = \"hi\";\n");
  await git(clone, "commit", "-am", "Add a greeting");
  await git(clone, "push", "origin", "bosun/1-greeting");
  const pr = (await bot.rest.pulls.create({ ...R, title: "Add a greeting", head: "bosun/1-greeting", base: "main", body: "Closes #1" })).data;
  assert.equal(pr.user?.login, "bosun[bot]");
  const dup = await refused(bot.rest.pulls.create({ ...R, title: "Again", head: "bosun/1-greeting", base: "main" }));
  assert.equal(dup.status, 422);
  assert.match(JSON.stringify(dup.response?.data), /A pull request already exists for acme:bosun\/1-greeting/);
  assert.deepEqual((await bot.rest.pulls.list({ ...R, head: "acme:bosun/1-greeting" })).data.map((p) => p.number), [pr.number]);
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.mergeable, true);
  await bot.rest.pulls.update({ ...R, pull_number: pr.number, title: "Add a friendly greeting" });
  assert.equal((await bot.rest.pulls.update({ ...R, pull_number: pr.number, state: "closed" })).data.state, "closed");
  assert.equal((await bot.rest.pulls.update({ ...R, pull_number: pr.number, state: "open" })).data.state, "open");
  await bot.rest.issues.addLabels({ ...R, issue_number: pr.number, labels: ["bosun"] });
  await bot.rest.issues.removeLabel({ ...R, issue_number: pr.number, name: "bosun" });
  const requested = await bot.rest.pulls.requestReviewers({ ...R, pull_number: pr.number, reviewers: ["maya"] });
  assert.deepEqual(requested.data.requested_reviewers?.map((u) => u.login), ["maya"]);

  // Draft and ready exist only in GraphQL; the query is checked against GitHub's schema.
  const toggle = (mutation: string) => bot.graphql<Record<string, { pullRequest: { number: number; isDraft: boolean } }>>(
    `mutation($id: ID!) { ${mutation}(input: { pullRequestId: $id }) { pullRequest { number isDraft } } }`, { id: pr.node_id });
  assert.deepEqual(await toggle("convertPullRequestToDraft"), { convertPullRequestToDraft: { pullRequest: { number: pr.number, isDraft: true } } });
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.draft, true);
  assert.deepEqual(await toggle("markPullRequestReadyForReview"), { markPullRequestReadyForReview: { pullRequest: { number: pr.number, isDraft: false } } });
  await assert.rejects(bot.graphql("mutation { markPullRequestReadyForReview(input: { pullRequestId: \"x\" }) { pullRequest { noSuchField } } }"), /Cannot query field "noSuchField" on type "PullRequest"/);
  await assert.rejects(bot.graphql("mutation($id: ID!) { markPullRequestReadyForReview(input: { pullRequestId: $id }) { clientMutationId } }", { id: "nope" }), /Could not resolve to a node with the global id of 'nope'/);
  const reader = octokitWith(gh.url, await mint({ repositories: ["alpha"], permissions: { pull_requests: "read" } }));
  await assert.rejects(reader.graphql("mutation($id: ID!) { convertPullRequestToDraft(input: { pullRequestId: $id }) { clientMutationId } }", { id: pr.node_id }), /Resource not accessible by integration/);

  // Another push to the branch: `synchronize`.
  await writeFile(join(clone, "src/app.ts"), "export const x = 1;\nexport const hello = \"hello\";\n");
  await git(clone, "commit", "-am", "Say hello");
  await git(clone, "push", "origin", "bosun/1-greeting");
  const head = (await git(clone, "rev-parse", "HEAD")).trim();
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.head.sha, head);

  // The gate: a check run, a code owner's approval, then a writer merges.
  const check = (await bot.rest.checks.create({ ...R, name: "bosun", head_sha: head, status: "in_progress" })).data;
  assert.equal(check.status, "in_progress");
  await bot.rest.checks.update({ ...R, check_run_id: check.id, conclusion: "success", output: { title: "Ready", summary: "Tests pass." } });
  assert.equal((await bot.rest.checks.get({ ...R, check_run_id: check.id })).data.conclusion, "success");
  const runs = await bot.rest.checks.listForRef({ ...R, ref: "bosun/1-greeting" });
  assert.deepEqual(runs.data.check_runs.map((c) => [c.name, c.conclusion]), [["bosun", "success"]]);
  // A writer's approval, dismissed by an admin: it no longer counts.
  const early = await gh.as("wes").rest.pulls.createReview({ ...R, pull_number: pr.number, event: "APPROVE" });
  const dismissed = await maya.rest.pulls.dismissReview({ ...R, pull_number: pr.number, review_id: early.data.id, message: "Too early." });
  assert.equal(dismissed.data.state, "DISMISSED");
  const review = await maya.rest.pulls.createReview({ ...R, pull_number: pr.number, event: "APPROVE", comments: [{ path: "src/app.ts", line: 2, body: "Nice greeting." }] });
  assert.equal(review.data.state, "APPROVED");
  assert.deepEqual((await bot.rest.pulls.listReviews({ ...R, pull_number: pr.number })).data.map((rv) => rv.user?.login), ["wes", "maya"]);
  // Its inline comment, read back for the review and for the pull request, and answered in its thread.
  const [inline] = (await bot.rest.pulls.listCommentsForReview({ ...R, pull_number: pr.number, review_id: review.data.id })).data;
  assert.equal(inline?.diff_hunk, "@@ -1 +1,2 @@\n export const x = 1;\n+export const hello = \"hello\";");
  const thanks = await bot.rest.pulls.createReplyForReviewComment({ ...R, pull_number: pr.number, comment_id: inline.id, body: "Thanks!" });
  assert.equal(thanks.data.in_reply_to_id, inline.id);
  assert.deepEqual((await bot.rest.pulls.listReviewComments({ ...R, pull_number: pr.number })).data.map((c) => c.body), ["Nice greeting.", "Thanks!"]);
  const merged = await gh.as("wes").rest.pulls.merge({ ...R, pull_number: pr.number, sha: head });
  assert.equal(merged.data.merged, true);
  assert.equal(await gh.fileAt("acme/alpha", "main", "src/app.ts"), "export const x = 1;\nexport const hello = \"hello\";\n");

  // ---- answers Bosun must cope with ---------------------------------------------------------------
  const unknown = await refused(bot.rest.repos.get({ owner: "acme", repo: "nope" }));
  assert.equal(unknown.status, 404);
  assert.equal(errorMessage(unknown), "Not Found");
  const forbidden = await refused(readOnly.rest.issues.create({ ...R, title: "nope" }));
  assert.equal(forbidden.status, 403);
  assert.equal(errorMessage(forbidden), "Resource not accessible by integration");
  const badCredentials = await refused(octokitWith(gh.url, "ghs_not-a-token").rest.repos.get(R));
  assert.equal(badCredentials.status, 401);
  assert.equal(errorMessage(badCredentials), "Bad credentials");
  assert.equal(badCredentials.response?.headers["x-ratelimit-limit"], "60", "bad credentials count against the unauthenticated limit");
  gh.setFaults({ serverErrors: { count: 1 } });
  assert.equal((await refused(bot.rest.repos.get(R))).status, 502);
  assert.equal((await bot.rest.repos.get(R)).status, 200, "a fault for one call leaves the next alone");
  gh.setFaults({ secondaryRateLimit: { count: 1, retryAfterSeconds: 7 } });
  const limited = await refused(bot.rest.issues.createComment({ ...R, issue_number: issue.number, body: "too fast" }));
  assert.equal(limited.status, 403);
  assert.equal(limited.response?.headers["retry-after"], "7");
  assert.match(errorMessage(limited), /secondary rate limit/);
  gh.setFaults({});
  for (const s of [
    "GET /repos/{owner}/{repo} 404", "POST /repos/{owner}/{repo}/issues 403", "POST /repos/{owner}/{repo}/pulls 422",
    "GET /repos/{owner}/{repo} 401", "GET /repos/{owner}/{repo} 502", "POST /repos/{owner}/{repo}/issues/{issue_number}/comments 403",
  ]) assert.ok(seen.has(s), `${s} was answered (and validated)`);

  // ---- registering an app from a manifest: on an offline GitHub of its own, as this one has its app ----
  const fresh = await startCheckedGitHub(t, { registerApp: false });
  fresh.gh.createUser("maya");
  const created = await createAppFromManifest(fresh.gh.webUrl, { url: "http://127.0.0.1:9/", redirect_url: "http://127.0.0.1:9/setup/callback", default_permissions: { issues: "write" } }, { login: "maya", name: "Coverage" });
  const code = new URL(created.headers.get("location") ?? "").searchParams.get("code") ?? "";
  assert.equal((await new Octokit({ baseUrl: fresh.gh.url }).request("POST /app-manifests/{code}/conversions", { code })).data.slug, "coverage");
  for (const s of fresh.seen) seen.add(s);

  // ---- nothing left out ------------------------------------------------------------------------------
  await gh.hooks.settled();
  const succeeded = (op: string): boolean => [...seen].some((s) => s.startsWith(`${op} 2`) && s.length === op.length + 4);
  assert.deepEqual(servedOperations().filter((op) => !succeeded(op)), [], "every served operation answered with a success");
  assert.deepEqual(sentWebhookEvents().filter((e) => !seen.has(e)), [], "every webhook the emulator can send was sent");
  assert.deepEqual(problems, [], "every answer and payload matches GitHub's published schemas");
  const rateHeaders = ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-used", "x-ratelimit-resource"];
  const withoutRate = answers.filter((a) => !a.what.endsWith(" 502") && rateHeaders.some((h) => a.headers[h] === undefined)).map((a) => a.what);
  assert.deepEqual(withoutRate, [], "every API answer but a gateway error carries the rate-limit headers");

  // ---- what the receiver got -------------------------------------------------------------------------
  const got = receiver.received.map((r) => ({ ...r, payload: JSON.parse(r.body) as { action?: string } }));
  assert.equal(got.length, gh.hooks.deliveries.length, "every delivery arrived");
  for (const r of got) {
    assert.equal(typeof r.headers["x-github-event"], "string");
    assert.match(String(r.headers["x-github-delivery"]), /^[0-9a-f-]{36}$/);
    assert.equal(r.signatureValid, true, `the X-Hub-Signature-256 of ${String(r.headers["x-github-delivery"])} verifies`);
  }
  const receivedEvents = new Set(got.map((r) => `${String(r.headers["x-github-event"])}.${String(r.payload.action)}`));
  assert.deepEqual(sentWebhookEvents().filter((e) => !receivedEvents.has(e)), []);
  const closedMerged = got.filter((r) => r.headers["x-github-event"] === "pull_request" && r.payload.action === "closed")
    .map((r) => (r.payload as { pull_request: { merged: boolean } }).pull_request.merged);
  assert.deepEqual(closedMerged, [false, true], "closing sends merged false, merging merged true");

  // A redelivery carries the same delivery id.
  const again = gh.hooks.deliveries[0];
  assert.ok(again);
  await gh.hooks.redeliver(again.guid);
  const withGuid = receiver.received.filter((r) => r.headers["x-github-delivery"] === again.guid);
  assert.equal(withGuid.length, 2);
  assert.equal(withGuid[0]?.body, withGuid[1]?.body);
  assert.ok(withGuid.every((r) => r.signatureValid));
});
