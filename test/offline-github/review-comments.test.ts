// Pull request review comments in the offline GitHub, as GitHub's REST API has them: inline
// comments made with a review and checked against the pull request's diff, read back per review
// and per pull request, replies in a thread (not to a reply), the webhooks, and who may do what.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RequestError } from "@octokit/request-error";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { appJwt, octokitWith } from "../helpers/app-jwt.ts";
import { parseFileDiff } from "./routes/review-comments.ts";

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

const lines = (n: number): string[] => Array.from({ length: n }, (_, k) => `line ${k + 1}`);
const before = `${lines(20).join("\n")}\n`;
// Line 10 changes and a line goes in after line 19: two hunks, 7–13 and 17–20 of the old file.
const after = `${[...lines(9), "line ten", ...lines(19).slice(10), "line 19b", "line 20"].join("\n")}\n`;

test("the diff's positions count from the file's first hunk header, later headers included", () => {
  const diff = ["diff --git a/f b/f", "--- a/f", "+++ b/f", "@@ -1,2 +1,2 @@", " a", "-b", "+B", "@@ -9,1 +9,2 @@", " x", "+y", "\\ No newline at end of file", ""].join("\n");
  assert.deepEqual(parseFileDiff(diff).map((l) => [l.position, l.kind, l.oldLine, l.newLine, l.hunk]), [
    [0, "@", null, null, 0], [1, " ", 1, 1, 0], [2, "-", 2, null, 0], [3, "+", null, 2, 0],
    [4, "@", null, null, 1], [5, " ", 9, 9, 1], [6, "+", null, 10, 1],
  ]);
});

test("a review with inline comments, the lists, replies and their webhooks", async (t) => {
  const hooks: { event: string; payload: Record<string, unknown> }[] = [];
  const { gh } = await startCheckedGitHub(t, { onWebhook: (event, payload) => hooks.push({ event, payload }) });
  gh.createUser("maya");
  gh.createUser("wes");
  gh.createUser("rita");
  gh.createUser("olga");
  gh.createOrg("acme", { admins: ["maya"] });
  await gh.createRepo("acme/alpha", { files: { "README.md": "alpha\n", "src/app.ts": before } });
  gh.addCollaborator("acme/alpha", "wes", "write");
  gh.addCollaborator("acme/alpha", "rita", "read");
  await gh.commit("acme/alpha", { branch: "feature", files: { "src/app.ts": after }, message: "Change line 10, add 19b", author: "wes" });
  const installationId = gh.install("acme", { events: [...gh.world.app.events, "pull_request_review_comment"] });
  const R = { owner: "acme", repo: "alpha" };
  const maya = gh.as("maya");
  const wes = gh.as("wes");
  const pr = (await wes.rest.pulls.create({ ...R, title: "Tidy", head: "feature", base: "main" })).data;
  const head = await gh.branchSha("acme/alpha", "feature");

  // ---- a review that requests changes, with two inline comments ---------------------------------
  const review = (await maya.rest.pulls.createReview({
    ...R, pull_number: pr.number, event: "REQUEST_CHANGES", body: "Two things.",
    comments: [
      { path: "src/app.ts", line: 10, side: "RIGHT", body: "Spell it as a number." },
      { path: "src/app.ts", start_line: 18, line: 20, body: "Why 19b?" },
    ],
  })).data;
  assert.equal(review.state, "CHANGES_REQUESTED");

  const ofReview = (await maya.rest.pulls.listCommentsForReview({ ...R, pull_number: pr.number, review_id: review.id })).data;
  assert.deepEqual(ofReview.map((c) => [c.path, c.line, c.side, c.start_line, c.start_side, c.position, c.original_position]), [
    ["src/app.ts", 10, "RIGHT", null, null, 5, 5],
    ["src/app.ts", 20, "RIGHT", 18, "RIGHT", 13, 13],
  ]);
  const [first, second] = ofReview;
  assert.ok(first && second);
  assert.equal(first.pull_request_review_id, review.id);
  assert.equal(first.commit_id, head);
  assert.equal(first.original_commit_id, head);
  assert.equal(first.user?.login, "maya");
  assert.equal(first.author_association, "MEMBER");
  // Git names the hunk's context after its header, as GitHub's diffs do.
  assert.equal(first.diff_hunk, "@@ -7,7 +7,7 @@ line 6\n line 7\n line 8\n line 9\n-line 10\n+line ten");
  assert.match(second.diff_hunk, /^@@ -17,4 \+17,5 @@ line 16\n line 17\n line 18\n line 19\n\+line 19b$/);
  assert.equal(first.html_url, `${gh.url}/acme/alpha/pull/${pr.number}#discussion_r${first.id}`);
  assert.equal(first.pull_request_url, `${gh.url}/repos/acme/alpha/pulls/${pr.number}`);
  assert.equal(first.in_reply_to_id, undefined);

  // ---- replies: one from a writer, one from the app; not to a reply -----------------------------
  const app = octokitWith(gh.url, appJwt(gh.appId, gh.privateKey));
  const mint = async (body: Record<string, unknown>): Promise<string> =>
    (await app.request("POST /app/installations/{installation_id}/access_tokens", { installation_id: installationId, ...body })).data.token;
  const bot = octokitWith(gh.url, await mint({}));
  const r1 = await wes.rest.pulls.createReplyForReviewComment({ ...R, pull_number: pr.number, comment_id: first.id, body: "Done." });
  assert.equal(r1.status, 201);
  assert.equal(r1.headers.location, `${gh.url}/repos/acme/alpha/pulls/comments/${r1.data.id}`);
  assert.equal(r1.data.in_reply_to_id, first.id);
  assert.deepEqual([r1.data.path, r1.data.line, r1.data.position, r1.data.diff_hunk], [first.path, first.line, first.position, first.diff_hunk]);
  assert.notEqual(r1.data.pull_request_review_id, review.id, "a reply is filed under a review of its own");
  const r2 = (await bot.rest.pulls.createReplyForReviewComment({ ...R, pull_number: pr.number, comment_id: second.id, body: "It is the new line." })).data;
  assert.equal(r2.user?.login, "bosun[bot]");
  assert.equal(r2.in_reply_to_id, second.id);
  const nested = await refused(maya.rest.pulls.createReplyForReviewComment({ ...R, pull_number: pr.number, comment_id: r1.data.id, body: "A reply to a reply" }));
  assert.equal(nested.status, 404, "replies to replies are not supported");
  assert.equal((await refused(maya.rest.pulls.createReplyForReviewComment({ ...R, pull_number: pr.number, comment_id: 999999, body: "?" }))).status, 404);

  const reviews = (await maya.rest.pulls.listReviews({ ...R, pull_number: pr.number })).data;
  assert.deepEqual(reviews.map((rv) => [rv.user?.login, rv.state, rv.body]), [["maya", "CHANGES_REQUESTED", "Two things."], ["wes", "COMMENTED", ""], ["bosun[bot]", "COMMENTED", ""]]);
  assert.deepEqual((await maya.rest.pulls.listCommentsForReview({ ...R, pull_number: pr.number, review_id: r1.data.pull_request_review_id ?? 0 })).data.map((c) => c.id), [r1.data.id]);

  // ---- all of the pull request's comments, sorted and paginated ---------------------------------
  const ids = [first.id, second.id, r1.data.id, r2.id];
  assert.deepEqual((await bot.rest.pulls.listReviewComments({ ...R, pull_number: pr.number })).data.map((c) => c.id), ids);
  assert.deepEqual((await bot.rest.pulls.listReviewComments({ ...R, pull_number: pr.number, sort: "created", direction: "desc" })).data.map((c) => c.id), [...ids].reverse());
  assert.deepEqual((await bot.rest.pulls.listReviewComments({ ...R, pull_number: pr.number, direction: "desc" })).data.map((c) => c.id), ids, "direction is ignored without sort");
  const page = await bot.rest.pulls.listReviewComments({ ...R, pull_number: pr.number, per_page: 3 });
  assert.equal(page.data.length, 3);
  assert.match(page.headers.link ?? "", /[?&]page=2[^>]*>; rel="next"/);
  assert.deepEqual((await bot.paginate(bot.rest.pulls.listReviewComments, { ...R, pull_number: pr.number, per_page: 3 })).map((c) => c.id), ids);
  assert.equal((await bot.rest.pulls.get({ ...R, pull_number: pr.number })).data.review_comments, 4);
  assert.deepEqual(gh.reviewComments("acme/alpha", pr.number).map((c) => [c.id, c.inReplyTo]), [[first.id, null], [second.id, null], [r1.data.id, first.id], [r2.id, second.id]]);

  // ---- the webhooks -----------------------------------------------------------------------------
  await gh.hooks.settled();
  const sent = hooks.map((h) => `${h.event}.${String(h.payload["action"])}`);
  assert.deepEqual(sent.filter((s) => s.startsWith("pull_request_review")), [
    "pull_request_review.submitted", "pull_request_review_comment.created", "pull_request_review_comment.created",
    "pull_request_review_comment.created", "pull_request_review.submitted",
    "pull_request_review_comment.created", "pull_request_review.submitted",
  ]);
  const created = hooks.filter((h) => h.event === "pull_request_review_comment").map((h) => h.payload["comment"] as { id: number; in_reply_to_id?: number; pull_request_review_id: number });
  assert.deepEqual(created.map((c) => [c.id, c.in_reply_to_id]), [[first.id, undefined], [second.id, undefined], [r1.data.id, first.id], [r2.id, second.id]]);
  assert.deepEqual(created.slice(0, 2).map((c) => c.pull_request_review_id), [review.id, review.id]);
});

test("inline comments that cannot be placed on the diff refuse the whole review", async (t) => {
  const { gh } = await startCheckedGitHub(t);
  gh.createUser("maya");
  gh.createUser("wes");
  gh.createOrg("acme", { admins: ["maya"] });
  await gh.createRepo("acme/alpha", { files: { "README.md": "alpha\n", "src/app.ts": before } });
  gh.addCollaborator("acme/alpha", "wes", "write");
  await gh.commit("acme/alpha", { branch: "feature", files: { "src/app.ts": after }, message: "Change line 10, add 19b", author: "wes" });
  const R = { owner: "acme", repo: "alpha" };
  const maya = gh.as("maya");
  const pr = (await gh.as("wes").rest.pulls.create({ ...R, title: "Tidy", head: "feature", base: "main" })).data;
  const review = (comments: { path: string; body: string; line?: number; side?: "LEFT" | "RIGHT"; start_line?: number; position?: number }[]) =>
    maya.rest.pulls.createReview({ ...R, pull_number: pr.number, event: "COMMENT", body: "Notes.", comments });
  const errorsOf = async (p: Promise<unknown>): Promise<unknown> => {
    const e = await refused(p);
    assert.equal(e.status, 422);
    return (e.response?.data as { message?: string; errors?: unknown }).errors;
  };

  const good = { path: "src/app.ts", line: 10, body: "fine" };
  assert.deepEqual(await errorsOf(review([good, { path: "README.md", line: 1, body: "not in the diff" }])), ["Path could not be resolved"]);
  assert.deepEqual(await errorsOf(review([good, { path: "nope.ts", line: 1, body: "no such file" }])), ["Path could not be resolved"]);
  assert.deepEqual(await errorsOf(review([{ path: "src/app.ts", line: 15, body: "between the hunks" }])), ["Line could not be resolved"]);
  assert.deepEqual(await errorsOf(review([{ path: "src/app.ts", line: 99, body: "past the end" }])), ["Line could not be resolved"]);
  assert.deepEqual(await errorsOf(review([{ path: "src/app.ts", line: 21, side: "LEFT", body: "the old file has 20 lines" }])), ["Line could not be resolved"]);
  assert.deepEqual(await errorsOf(review([{ path: "src/app.ts", body: "no line at all" }])), ["Line could not be resolved"]);
  assert.deepEqual(await errorsOf(review([{ path: "src/app.ts", start_line: 8, line: 20, body: "across hunks" }])), ["Pull request review thread start line must be part of the same hunk as the line."]);
  assert.equal((await maya.rest.pulls.listReviews({ ...R, pull_number: pr.number })).data.length, 0, "nothing was stored");
  assert.deepEqual(gh.reviewComments("acme/alpha", pr.number), []);

  // The removed line on the left, by line and by (closing-down) position.
  const ok = (await review([{ path: "src/app.ts", line: 10, side: "LEFT", body: "was fine" }, { path: "src/app.ts", position: 4, body: "same line" }])).data;
  const placed = (await maya.rest.pulls.listCommentsForReview({ ...R, pull_number: pr.number, review_id: ok.id })).data;
  assert.deepEqual(placed.map((c) => [c.line, c.side, c.position]), [[10, "LEFT", 4], [10, "LEFT", 4]]);
});

test("who may read and write review comments", async (t) => {
  const { gh } = await startCheckedGitHub(t);
  gh.createUser("maya");
  gh.createUser("wes");
  gh.createUser("rita");
  gh.createUser("olga");
  gh.createOrg("acme", { admins: ["maya"] });
  await gh.createRepo("acme/alpha", { files: { "src/app.ts": before } });
  gh.addCollaborator("acme/alpha", "wes", "write");
  gh.addCollaborator("acme/alpha", "rita", "read");
  await gh.commit("acme/alpha", { branch: "feature", files: { "src/app.ts": after }, message: "Change", author: "wes" });
  const installationId = gh.install("acme");
  const R = { owner: "acme", repo: "alpha" };
  const pr = (await gh.as("wes").rest.pulls.create({ ...R, title: "Tidy", head: "feature", base: "main" })).data;
  const status = async (p: Promise<{ status: number }>): Promise<number> => {
    try {
      return (await p).status;
    } catch (e) {
      if (e instanceof RequestError) return e.status;
      throw e;
    }
  };

  // Someone who can read the repository may review and comment inline.
  const rita = gh.as("rita");
  const rv = (await rita.rest.pulls.createReview({ ...R, pull_number: pr.number, event: "COMMENT", body: "A reader's notes.", comments: [{ path: "src/app.ts", line: 10, body: "Hm." }] })).data;
  const [c] = (await rita.rest.pulls.listCommentsForReview({ ...R, pull_number: pr.number, review_id: rv.id })).data;
  assert.ok(c);
  assert.equal(c.author_association, "COLLABORATOR");
  assert.equal(await status(rita.rest.pulls.createReplyForReviewComment({ ...R, pull_number: pr.number, comment_id: c.id, body: "Me again." })), 201);
  // Someone who cannot see the private repository is told it does not exist.
  assert.equal(await status(gh.as("olga").rest.pulls.listReviewComments({ ...R, pull_number: pr.number })), 404);

  // Installation tokens: reading needs pull_requests read, replying pull_requests write.
  const app = octokitWith(gh.url, appJwt(gh.appId, gh.privateKey));
  const mint = async (permissions: Record<string, string>): Promise<ReturnType<typeof octokitWith>> =>
    octokitWith(gh.url, (await app.request("POST /app/installations/{installation_id}/access_tokens", { installation_id: installationId, permissions })).data.token);
  const reader = await mint({ pull_requests: "read" });
  const contents = await mint({ contents: "read" });
  assert.equal(await status(reader.rest.pulls.listReviewComments({ ...R, pull_number: pr.number })), 200);
  assert.equal(await status(reader.rest.pulls.listCommentsForReview({ ...R, pull_number: pr.number, review_id: rv.id })), 200);
  assert.equal(await status(reader.rest.pulls.createReplyForReviewComment({ ...R, pull_number: pr.number, comment_id: c.id, body: "no" })), 403);
  assert.equal(await status(contents.rest.pulls.listReviewComments({ ...R, pull_number: pr.number })), 403);
  assert.equal(await status(reader.rest.pulls.listCommentsForReview({ ...R, pull_number: pr.number, review_id: 424242 })), 404);
});
