// The core loop end to end: a maintainer labels an issue on the offline GitHub; Bosun, over
// signed webhooks, Postgres and Docker, ends with a gated pull request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { leftovers } from "../helpers/docker.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

test("a maintainer's label leads to a gated pull request with the agent's commit", async (t) => {
  const { gh, bosun, waitForRun } = await startBosunWorld(t);
  await seedDemoRepo(gh, "widgets", { protect: true });
  const maya = gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo: "widgets", title: demoIssue.title, body: demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo: "widgets", issue_number: issue.data.number, labels: ["bosun"] });

  const run = await waitForRun({ repo: "acme/widgets", issue: issue.data.number });
  assert.equal(run.state, "succeeded", `run ended ${run.state}: ${run.outcome ?? ""} ${run.lastError ?? ""} ${run.facts.testOutputTail ?? ""} ${run.facts.agentOutputTail ?? ""}`);

  // The pull request: branch, body, reviewers, checks, ready for review.
  const repo = gh.repo("acme/widgets");
  const pull = [...repo.issues.values()].find((i) => i.pull);
  assert.ok(pull?.pull, "a pull request was opened");
  assert.match(pull.pull.head, /^bosun\/1-add-subtracts-instead-of-adding$/);
  assert.equal(pull.pull.draft, false, "full protection: ready for review");
  assert.match(pull.body ?? "", /Closes #1/);
  assert.match(pull.body ?? "", /src\/add\.js/);
  assert.match(pull.body ?? "", /`npm test`: ✅ passed/);
  assert.match(pull.body ?? "", /Applied the patch given in issue #1/);
  assert.deepEqual([...pull.pull.requestedReviewers], ["owen"]);
  assert.ok(pull.labels.includes("bosun"));
  assert.equal(await gh.fileAt("acme/widgets", pull.pull.head, "src/add.js"), "// Adds two numbers.\nexport function add(a, b) {\n  return a + b;\n}\n");
  const headSha = await gh.branchSha("acme/widgets", pull.pull.head);
  const checks = [...repo.checkRuns.values()].filter((c) => c.headSha === headSha);
  assert.deepEqual(checks.map((c) => [c.name, c.status, c.conclusion]).sort(), [["bosun", "completed", "success"], ["bosun/independent-review", "in_progress", null]]);

  // The commit: authored by Bosun, crediting the requester, naming the issue and the run.
  const commit = await gh.world.git.commitInfo("acme", "widgets", headSha ?? "");
  assert.equal(commit?.author.name, "Bosun");
  assert.match(commit?.message ?? "", /Co-authored-by: maya </);
  assert.match(commit?.message ?? "", new RegExp(`Bosun-Run: ${run.id}`));
  assert.match(commit?.message ?? "", /Bosun-Issue: acme\/widgets#1/);

  // The change was held until Owen approved its push: Bosun answered him, and kept one progress
  // comment, edited to its final state.
  const replies = [...repo.comments.values()].filter((c) => c.issueNumber === 1 && c.user === "bosun[bot]" && c.body.includes("bosun:reply"));
  assert.equal(replies.length, 1);
  assert.match(replies[0]?.body ?? "", /^@owen Approved [0-9a-f]{7}\. Bosun pushes it and opens the pull request now/);
  assert.equal(run.facts.pushApproval?.by, "owen");
  const comments = [...repo.comments.values()].filter((c) => c.issueNumber === 1 && c.user === "bosun[bot]" && !c.body.includes("bosun:reply"));
  assert.equal(comments.length, 1, comments.map((c) => c.body).join("\n---\n"));
  assert.match(comments[0]?.body ?? "", /Bosun · ✅ Done/);
  assert.match(comments[0]?.body ?? "", /ready for review/);
  assert.ok(comments[0]?.body.includes(pull.pull ? `${gh.url}/acme/widgets/pull/${pull.number}` : "?"));

  // Merge is refused until an owner other than the requester approves.
  const owen = gh.as("owen");
  const merge = () => maya.rest.pulls.merge({ owner: "acme", repo: "widgets", pull_number: pull.number });
  await assert.rejects(merge(), /approving review|independent-review/);
  await maya.rest.pulls.createReview({ owner: "acme", repo: "widgets", pull_number: pull.number, event: "APPROVE" });
  await gh.hooks.settled();
  await waitForReviewEvent(bosun.pool, run.id, 1);
  await assert.rejects(merge(), /independent-review|code owner/, "the requester's approval alone is not enough");
  const owensFirst = await owen.rest.pulls.createReview({ owner: "acme", repo: "widgets", pull_number: pull.number, event: "APPROVE" });
  await gh.hooks.settled();
  await waitForReviewEvent(bosun.pool, run.id, 2);
  const review = () => [...repo.checkRuns.values()].find((c) => c.name === "bosun/independent-review" && c.headSha === headSha);
  assert.equal(review()?.conclusion, "success");
  // A dismissed approval stops counting: the check goes back to waiting, and merging is refused again.
  await maya.rest.pulls.dismissReview({ owner: "acme", repo: "widgets", pull_number: pull.number, review_id: owensFirst.data.id, message: "Needs another look." });
  await gh.hooks.settled();
  await waitForReviewEvent(bosun.pool, run.id, 3);
  assert.equal(review()?.status, "in_progress");
  await assert.rejects(merge(), /independent-review|approving review/);
  await owen.rest.pulls.createReview({ owner: "acme", repo: "widgets", pull_number: pull.number, event: "APPROVE" });
  await gh.hooks.settled();
  await waitForReviewEvent(bosun.pool, run.id, 4);
  assert.equal(review()?.conclusion, "success");
  const merged = await merge();
  assert.equal(merged.data.merged, true);

  // Least privilege: every token for this one repository; the fetch token read-only; all revoked.
  const tokens = gh.installationTokens();
  assert.ok(tokens.length >= 3);
  for (const tk of tokens) {
    assert.deepEqual(gh.tokenRepositories(tk), ["acme/widgets"]);
    assert.ok(tk.revokedAt, `token with ${JSON.stringify(tk.permissions)} was revoked`);
  }
  const fetchToken = tokens.find((tk) => tk.permissions["contents"] === "read");
  assert.ok(fetchToken);
  assert.ok(!Object.values(fetchToken.permissions).includes("write"), "the fetch token had no write permission");

  // The transcript tells the story in order, and Docker holds nothing of the run.
  const events = await readTranscript(bosun.pool, run.id);
  const kinds = events.map((e) => e.kind);
  for (const k of ["policy_decision", "token_minted", "prompt", "command", "file_diff", "test", "push", "pull_request", "token_revoked", "state"]) assert.ok(kinds.includes(k as never), `transcript has ${k}`);
  assert.ok(kinds.indexOf("file_diff") < kinds.indexOf("test") && kinds.indexOf("test") < kinds.indexOf("pull_request"));
  const prompt = events.find((e) => e.kind === "prompt");
  assert.ok(!JSON.stringify(prompt?.payload).includes("hidden note"), "HTML comments are stripped from the issue text");
  assert.deepEqual(await leftovers(run.id), { containers: 0, volumes: 0 });
});

async function waitForReviewEvent(pool: import("pg").Pool, runId: string, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const events = await readTranscript(pool, runId);
    if (events.filter((e) => e.kind === "review" && e.payload["independent_review"] !== undefined).length >= count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("Bosun did not record the review");
}
