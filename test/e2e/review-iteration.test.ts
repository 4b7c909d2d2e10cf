// Reviewers steer the agent from the pull request: a review requesting changes, with two inline
// comments, starts a follow-up on the same branch (from a person's push in between, never
// force-pushing) that adds a commit addressing both, replies in both threads and keeps one
// progress comment on the pull request; `/bosun <instructions>` on the pull request does the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";
import { isTerminal } from "../../src/runs/run.ts";

// What the reviewer wants, as a patch the bundled agent applies on top of the branch: a clearer
// comment in src/add.js and one more test.
const reviewPatch = [
  "```diff",
  "diff --git a/src/add.js b/src/add.js",
  "--- a/src/add.js",
  "+++ b/src/add.js",
  "@@ -1,2 +1,2 @@",
  "-// Adds two numbers.",
  "+// Adds two numbers and returns their sum.",
  " export function add(a, b) {",
  "diff --git a/test/add.test.js b/test/add.test.js",
  "--- a/test/add.test.js",
  "+++ b/test/add.test.js",
  "@@ -4,3 +4,4 @@",
  " assert.equal(add(2, 3), 5);",
  " assert.equal(add(-1, 1), 0);",
  "+assert.equal(add(0, 0), 0);",
  ' console.log("add: 2 tests passed");',
  "```",
].join("\n");

test("a review requesting changes, then /bosun <instructions>: follow-up commits on the same branch", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "iterate", { protect: true });
  const issue = await labelDemoIssue(w.gh, "iterate");
  const first = await w.waitForRun({ repo: "acme/iterate", issue });
  assert.equal(first.state, "succeeded", first.outcome ?? "");
  const branch = first.branch ?? "";
  const pull = first.prNumber ?? 0;
  const firstCommit = first.facts.commitSha ?? "";

  // Owen pushes to the branch himself, then asks for changes with two inline comments.
  const ownPush = await w.gh.commit("acme/iterate", { branch, files: { "NOTES.md": "Reviewed by Owen.\n" }, message: "Add review notes", author: "owen" });
  const owen = w.gh.as("owen");
  const review = await owen.rest.pulls.createReview({
    owner: "acme", repo: "iterate", pull_number: pull, event: "REQUEST_CHANGES",
    body: `Two things before this can merge:\n\n${reviewPatch}`,
    comments: [
      { path: "src/add.js", line: 1, body: "Say what it returns." },
      { path: "src/add.js", line: 3, body: "Right. Test zero too, in test/add.test.js." },
    ],
  });
  const inline = (await owen.rest.pulls.listCommentsForReview({ owner: "acme", repo: "iterate", pull_number: pull, review_id: review.data.id })).data;
  assert.equal(inline.length, 2);

  // Owen asked for the follow-up, so Maya approves its push (waitForRun does, as a second maintainer).
  const second = await w.waitForRun({ repo: "acme/iterate", issue, until: (r) => r.id !== first.id && isTerminal(r.state) });
  assert.equal(second.state, "succeeded", `${second.outcome ?? ""} ${JSON.stringify(second.facts.failure ?? {})} ${JSON.stringify(second.facts.task?.follow_up ?? null)}`);
  assert.equal(second.requestedBy, "owen");
  assert.equal(second.branch, branch);
  assert.equal(second.prNumber, pull, "the same pull request");

  // The branch: Bosun's first commit, Owen's push, the follow-up on top (nothing rewritten).
  const history = async (n: number): Promise<{ sha: string; message: string }[]> => {
    const out: { sha: string; message: string }[] = [];
    let sha = await w.gh.world.git.resolve("acme", "iterate", `refs/heads/${branch}`);
    while (sha && out.length < n) {
      const c = await w.gh.world.git.commitInfo("acme", "iterate", sha);
      if (!c) break;
      out.unshift({ sha: c.sha, message: c.message });
      sha = c.parents[0] ?? null;
    }
    return out;
  };
  const commits = await history(3);
  assert.deepEqual(commits.map((c) => c.sha), [firstCommit, ownPush, second.facts.commitSha]);
  assert.match(commits[2]?.message ?? "", /^Address @owen's review \(#\d+\)/);
  const fileAt = async (path: string): Promise<string> => {
    const head = await w.gh.world.git.resolve("acme", "iterate", `refs/heads/${branch}`);
    const e = head ? await w.gh.world.git.entry("acme", "iterate", head, path) : null;
    return e?.type === "file" ? e.content.toString("utf8") : "";
  };
  assert.match(await fileAt("src/add.js"), /Adds two numbers and returns their sum\.\nexport function add\(a, b\) {\n {2}return a \+ b;/);
  assert.equal(await fileAt("NOTES.md"), "Reviewed by Owen.\n", "Owen's push is kept");

  // A reply in each thread, and one progress comment on the pull request.
  const all = (await owen.rest.pulls.listReviewComments({ owner: "acme", repo: "iterate", pull_number: pull })).data;
  for (const c of inline) {
    const replies = all.filter((r) => r.in_reply_to_id === c.id);
    assert.equal(replies.length, 1, `one reply to ${c.path}`);
    assert.match(replies[0]?.body ?? "", new RegExp(`^Addressed in ${(second.facts.commitSha ?? "").slice(0, 7)}`));
    assert.equal(replies[0]?.user?.login, "bosun[bot]");
  }
  const prComments = [...w.gh.repo("acme/iterate").comments.values()].filter((c) => c.issueNumber === pull && c.body.includes("bosun:progress"));
  assert.equal(prComments.length, 1, "one progress comment on the pull request");
  assert.match(prComments[0]?.body ?? "", /Bosun · ✅ Done/);

  const events = await readTranscript(w.bosun.pool, second.id);
  const addressed = events.find((e) => e.kind === "review" && e.payload["decision"] === "addressed");
  assert.deepEqual((addressed?.payload["comments"] as { id: number }[] | undefined)?.map((c) => c.id), inline.map((c) => c.id));
  const prompt = events.find((e) => e.kind === "prompt" && e.payload["source"] !== "agent");
  assert.match(String(prompt?.payload["prompt"]), /<comment boundary="[0-9a-f]{32}" path="src\/add\.js" line="1">\nSay what it returns\./);

  // Instructions in a comment on the pull request: a third commit.
  await w.gh.as("maya").rest.issues.createComment({
    owner: "acme", repo: "iterate", issue_number: pull,
    body: ["/bosun also test negative numbers", "", "```diff", "--- a/test/add.test.js", "+++ b/test/add.test.js", "@@ -6,2 +6,3 @@", " assert.equal(add(0, 0), 0);", '+assert.equal(add(-2, -3), -5);', ' console.log("add: 2 tests passed");', "```"].join("\n"),
  });
  const third = await w.waitForRun({ repo: "acme/iterate", issue, until: (r) => r.id !== second.id && r.id !== first.id && isTerminal(r.state) });
  assert.equal(third.state, "succeeded", `${third.outcome ?? ""} ${JSON.stringify(third.facts.failure ?? {})}`);
  const after = await history(4);
  assert.deepEqual(after.map((c) => c.sha), [firstCommit, ownPush, second.facts.commitSha, third.facts.commitSha]);
  assert.match(after[3]?.message ?? "", /^Follow up on @maya's request \(#\d+\)/);
  await w.waitForRun({ repo: "acme/iterate", issue });
});
