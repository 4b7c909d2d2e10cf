// `/bosun` commands on the issue: approving an outsider's issue text, cancelling a running
// agent, status, retry, and an unknown command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld, type BosunWorld } from "../helpers/bosun-world.ts";
import { docker, waitForContainer } from "../helpers/docker.ts";
import { seedDemoRepo } from "../helpers/seed.ts";


function replies(w: BosunWorld, repo: string, issue: number): string[] {
  return [...w.gh.repo(`acme/${repo}`).comments.values()].filter((c) => c.issueNumber === issue && c.body.includes("bosun:reply")).map((c) => c.body);
}

async function waitForReplies(w: BosunWorld, repo: string, issue: number, n: number): Promise<string[]> {
  for (let i = 0; i < 300; i++) {
    await w.gh.hooks.settled();
    const r = replies(w, repo, issue);
    if (r.length >= n) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`expected ${n} replies on acme/${repo}#${issue}`);
}

test("commands", async (t) => {
  const w = await startBosunWorld(t);

  await t.test("an outsider's issue waits for /bosun approve before the agent reads it", async () => {
    await seedDemoRepo(w.gh, "outsider", { public: true });
    w.gh.createUser("mallory");
    const issue = await w.gh.as("mallory").rest.issues.create({ owner: "acme", repo: "outsider", title: demoIssue.title, body: demoIssue.body });
    const n = issue.data.number;
    await w.gh.as("maya").rest.issues.addLabels({ owner: "acme", repo: "outsider", issue_number: n, labels: ["bosun"] });
    const waiting = await w.waitForRun({ repo: "acme/outsider", issue: n, until: (r) => r.state === "awaiting_approval" });
    const progress = () => [...w.gh.repo("acme/outsider").comments.values()].find((c) => c.body.includes("bosun:progress"))?.body ?? "";
    for (let i = 0; i < 100 && !progress().includes("Waiting for a maintainer"); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(progress(), /Waiting for a maintainer's `\/bosun approve`/);
    assert.match(progress(), /the issue was written by @mallory, who has read access to acme\/outsider\. The agent has not read it/);
    assert.ok(!(await readTranscript(w.bosun.pool, waiting.id)).some((e) => e.kind === "prompt"), "nothing was handed to an agent");

    await w.gh.as("mallory").rest.issues.createComment({ owner: "acme", repo: "outsider", issue_number: n, body: "/bosun approve" });
    const [refusal] = await waitForReplies(w, "outsider", n, 1);
    assert.match(refusal ?? "", /@mallory Only people the org's policy lets start work can give Bosun commands: @mallory has read access to acme\/outsider; the org's policy needs write or more\./);
    assert.equal((await w.bosun.store.get(waiting.id))?.state, "awaiting_approval");

    await w.gh.as("maya").rest.issues.createComment({ owner: "acme", repo: "outsider", issue_number: n, body: "/bosun approve" });
    const run = await w.waitForRun({ repo: "acme/outsider", issue: n });
    assert.equal(run.state, "succeeded", run.outcome ?? "");
    assert.equal(run.facts.approval?.by, "maya");
    assert.match((await waitForReplies(w, "outsider", n, 2))[1] ?? "", /@maya Approved text [0-9a-f]{12}, as the progress comment shows it\. Later edits will not reach the agent\./);
    const events = await readTranscript(w.bosun.pool, run.id);
    assert.ok(events.some((e) => e.kind === "review" && e.payload["author"] === "maya" && e.payload["decision"] === "approved"));
    assert.ok(events.some((e) => e.kind === "policy_decision" && e.payload["author"] === "mallory" && e.payload["decision"] === "refused"));
  });

  await t.test("/bosun cancel stops a running agent within seconds, /bosun retry starts again", async () => {
    await seedDemoRepo(w.gh, "cancelled", {
      files: { ".github/bosun.yml": "agent:\n  command: sleep 300\n" },
    });
    const maya = w.gh.as("maya");
    const issue = await maya.rest.issues.create({ owner: "acme", repo: "cancelled", title: demoIssue.title, body: demoIssue.body });
    const n = issue.data.number;
    await maya.rest.issues.addLabels({ owner: "acme", repo: "cancelled", issue_number: n, labels: ["bosun"] });
    const running = await w.waitForRun({ repo: "acme/cancelled", issue: n, until: (r) => r.state === "running" });
    await waitForContainer(running.id, "agent");
    const asked = Date.now();
    await maya.rest.issues.createComment({ owner: "acme", repo: "cancelled", issue_number: n, body: "/bosun cancel" });
    let gone = false;
    while (!gone && Date.now() - asked < 10_000) {
      gone = (await docker.listContainers({ all: true, filters: { label: [`bosun.run=${running.id}`] } })).length === 0;
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(gone, "the agent container was gone within 10 seconds");
    const cancelled = await w.waitForRun({ repo: "acme/cancelled", issue: n });
    assert.equal(cancelled.state, "cancelled");
    assert.match((await waitForReplies(w, "cancelled", n, 1))[0] ?? "", /Cancelled run `[0-9a-f-]+`; its sandbox is stopped\./);
    const progress = [...w.gh.repo("acme/cancelled").comments.values()].find((c) => c.body.includes("bosun:progress"))?.body ?? "";
    assert.match(progress, /Bosun · 🛑 Cancelled/);
    assert.match(progress, /Cancelled by @maya\./);

    await maya.rest.issues.createComment({ owner: "acme", repo: "cancelled", issue_number: n, body: "/bosun status" });
    assert.match((await waitForReplies(w, "cancelled", n, 2))[1] ?? "", /is \*\*cancelled\*\*/);

    // The next run reads the repository's settings afresh: this time the bundled agent.
    await w.gh.commit("acme/cancelled", { files: { ".github/bosun.yml": "test:\n  command: npm test\n" }, message: "Use the default agent", author: "maya" });
    await maya.rest.issues.createComment({ owner: "acme", repo: "cancelled", issue_number: n, body: "/bosun retry" });
    const retried = await w.waitForRun({ repo: "acme/cancelled", issue: n, until: (r) => r.id !== cancelled.id && ["succeeded", "failed"].includes(r.state) });
    assert.equal(retried.state, "succeeded", `${retried.outcome ?? ""} ${retried.lastError ?? ""}`);
    assert.match((await waitForReplies(w, "cancelled", n, 3))[2] ?? "", /Started run `[0-9a-f-]+` again, at your request\./);
  });

  await t.test("an unknown command gets the list of commands", async () => {
    await seedDemoRepo(w.gh, "chatty");
    const maya = w.gh.as("maya");
    const issue = await maya.rest.issues.create({ owner: "acme", repo: "chatty", title: "Hello", body: "Hi." });
    await maya.rest.issues.createComment({ owner: "acme", repo: "chatty", issue_number: issue.data.number, body: "/bosun frobnicate the widgets" });
    const [reply] = await waitForReplies(w, "chatty", issue.data.number, 1);
    assert.match(reply ?? "", /Bosun does not know `\/bosun frobnicate the widgets`\. Commands:/);
    for (const c of ["approve", "retry", "cancel", "status", "policy"]) assert.match(reply ?? "", new RegExp(`/bosun ${c}`));
    await maya.rest.issues.createComment({ owner: "acme", repo: "chatty", issue_number: issue.data.number, body: "/bosun policy" });
    const policy = (await waitForReplies(w, "chatty", issue.data.number, 2))[1] ?? "";
    assert.match(policy, /The settings in force for this repository \(org policy: defaults \(acme\/\.github has no \.github\/bosun\.yml\)\)|org policy: defaults \(Bosun cannot read acme\/\.github\)/);
    assert.match(policy, /\| agent: network \| `none` \| Bosun's default \|/);
    assert.match(policy, /\| test command \| `npm test` \| \.github\/bosun\.yml \|/);
    assert.match(policy, /\| limits\.agent_minutes \| `30` \| Bosun's default \|/);
  });
});
