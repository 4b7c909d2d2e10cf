// How runs end when things do not go to plan, as the maintainer sees it on the issue, and what
// Docker and the token log show afterwards.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld, type BosunWorld } from "../helpers/bosun-world.ts";
import { leftovers, waitForContainer } from "../helpers/docker.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

async function leftCount(runId: string): Promise<number> {
  const l = await leftovers(runId);
  return l.containers + l.volumes;
}

async function labelNewIssue(w: BosunWorld, repo: string, o: { title?: string; body?: string; label?: string; as?: string } = {}): Promise<number> {
  const author = w.gh.as("maya");
  const issue = await author.rest.issues.create({ owner: "acme", repo, title: o.title ?? demoIssue.title, body: o.body ?? demoIssue.body });
  await w.gh.as(o.as ?? "maya").rest.issues.addLabels({ owner: "acme", repo, issue_number: issue.data.number, labels: [o.label ?? "bosun"] });
  return issue.data.number;
}

function botComments(w: BosunWorld, repo: string, issue: number): string[] {
  return [...w.gh.repo(`acme/${repo}`).comments.values()].filter((c) => c.issueNumber === issue && c.user === "bosun[bot]").map((c) => c.body);
}

function pulls(w: BosunWorld, repo: string) {
  return [...w.gh.repo(`acme/${repo}`).issues.values()].filter((i) => i.pull);
}

test("outcomes", async (t) => {
  const w = await startBosunWorld(t);

  await t.test("a labeller without write access gets a comment and no run", async () => {
    await seedDemoRepo(w.gh, "refused");
    const issue = await labelNewIssue(w, "refused", { as: "tess" });
    const run = await w.waitForRun({ repo: "acme/refused", issue });
    assert.equal(run.state, "refused");
    const comments = botComments(w, "refused", issue);
    assert.equal(comments.length, 1);
    assert.match(comments[0] ?? "", /Bosun did not start: @tess has triage access to acme\/refused; the org's policy needs write or more\. A maintainer can add the label instead\./);
    assert.equal(pulls(w, "refused").length, 0);
    const events = await readTranscript(w.bosun.pool, run.id);
    assert.ok(!events.some((e) => e.kind === "command"), "no agent ran");
    assert.equal(await leftCount(run.id), 0);
  });

  await t.test("plan mode posts the plan and never mints a token that can change code", async () => {
    await seedDemoRepo(w.gh, "planned");
    const before = w.gh.installationTokens().length;
    const issue = await labelNewIssue(w, "planned", { label: "bosun:plan" });
    const run = await w.waitForRun({ repo: "acme/planned", issue });
    assert.equal(run.state, "succeeded", run.outcome ?? "");
    const comments = botComments(w, "planned", issue);
    assert.equal(comments.length, 2, "the progress comment and the plan");
    const plan = comments.find((c) => c.includes("Bosun · plan for"));
    assert.match(plan ?? "", /Plan for #1: apply the patch from the issue\./);
    assert.match(plan ?? "", /change `src\/add\.js`/);
    assert.match(comments.find((c) => c.includes("bosun:progress")) ?? "", /The plan is posted below\. Nothing was pushed\./);
    const tokens = w.gh.installationTokens().slice(before);
    assert.ok(tokens.length > 0);
    for (const tk of tokens) {
      for (const scope of ["contents", "pull_requests", "checks"]) assert.notEqual(tk.permissions[scope], "write", `plan mode minted ${scope}: write`);
      assert.ok(tk.revokedAt);
    }
    assert.deepEqual([...(await w.gh.world.git.refs("acme", "planned")).keys()], ["refs/heads/main"]);
  });

  await t.test("failing tests open a draft pull request with a failing check", async () => {
    await seedDemoRepo(w.gh, "broken", { protect: true });
    const body = demoIssue.body.replace("+  return a + b;", "+  return a * b;");
    const issue = await labelNewIssue(w, "broken", { body });
    const run = await w.waitForRun({ repo: "acme/broken", issue });
    assert.equal(run.state, "failed");
    const [pr] = pulls(w, "broken");
    assert.ok(pr?.pull);
    assert.equal(pr.pull.draft, true);
    assert.match(pr.body ?? "", /`npm test`: ❌ failed \(exit code 1\)/);
    const check = [...w.gh.repo("acme/broken").checkRuns.values()].find((c) => c.name === "bosun");
    assert.equal(check?.conclusion, "failure");
    assert.equal(check?.output.title, "Tests failed");
    const [progress] = botComments(w, "broken", issue);
    assert.match(progress ?? "", /Bosun · ❌ Failed/);
    assert.match(progress ?? "", /The tests failed on the agent's change\. Pull request .*\/pull\/2 is open as a draft with a failing check/);
    assert.equal(await leftCount(run.id), 0);
  });

  await t.test("a failing agent is reported with its last lines", async () => {
    await seedDemoRepo(w.gh, "crashing", { files: { ".github/bosun.yml": "agent:\n  command: echo 'cannot reach the model' >&2; exit 3\ntest:\n  command: npm test\n" } });
    const issue = await labelNewIssue(w, "crashing");
    const run = await w.waitForRun({ repo: "acme/crashing", issue });
    assert.equal(run.state, "failed");
    const [progress] = botComments(w, "crashing", issue);
    assert.match(progress ?? "", /The agent exited with code 3\./);
    assert.match(progress ?? "", /cannot reach the model/);
    assert.equal(pulls(w, "crashing").length, 0);
    assert.equal(await leftCount(run.id), 0);
    assert.ok(w.gh.installationTokens().every((tk) => tk.revokedAt), "no live token is left");
  });

  await t.test("an agent that changes nothing says so and stops", async () => {
    await seedDemoRepo(w.gh, "idle");
    const issue = await labelNewIssue(w, "idle", { body: "Something is off, but no patch here." });
    const run = await w.waitForRun({ repo: "acme/idle", issue });
    assert.equal(run.state, "failed");
    assert.match(botComments(w, "idle", issue)[0] ?? "", /The agent finished without changing any file, so there is nothing to propose\./);
    assert.equal(pulls(w, "idle").length, 0);
    assert.equal(await leftCount(run.id), 0);
  });

  await t.test("an agent past its time limit is stopped", async () => {
    await seedDemoRepo(w.gh, "slow", { files: { ".github/bosun.yml": "agent:\n  command: sleep 60\n  timeout_minutes: 0.05\n" } });
    const issue = await labelNewIssue(w, "slow");
    const run = await w.waitForRun({ repo: "acme/slow", issue });
    assert.equal(run.state, "failed");
    assert.match(botComments(w, "slow", issue)[0] ?? "", /The agent did not finish within 0\.05 minutes and was stopped\./);
    assert.equal(await leftCount(run.id), 0);
  });

  await t.test("without branch protection the pull request stays a draft and the check names the settings", async () => {
    await seedDemoRepo(w.gh, "unprotected");
    const issue = await labelNewIssue(w, "unprotected");
    const run = await w.waitForRun({ repo: "acme/unprotected", issue });
    assert.equal(run.state, "succeeded", run.outcome ?? "");
    const [pr] = pulls(w, "unprotected");
    assert.equal(pr?.pull?.draft, true);
    const check = [...w.gh.repo("acme/unprotected").checkRuns.values()].find((c) => c.name === "bosun");
    assert.equal(check?.conclusion, "failure");
    assert.match(check?.output.summary ?? "", /Protect the branch `main`/);
    assert.match(check?.output.summary ?? "", /Require status checks to pass: `bosun` and `bosun\/independent-review`/);
    assert.match(check?.output.summary ?? "", /Require review from Code Owners/);
    assert.match(pr?.body ?? "", /stays a draft until the base branch's protection requires/);
  });

  await t.test("a broken .github/bosun.yml fails the run with the file, line and key", async () => {
    await seedDemoRepo(w.gh, "misconfigured", { files: { ".github/bosun.yml": "test:\n  command: npm test\n  timeout_minutes: soon\n" } });
    const issue = await labelNewIssue(w, "misconfigured");
    const run = await w.waitForRun({ repo: "acme/misconfigured", issue });
    assert.equal(run.state, "failed");
    const [progress] = botComments(w, "misconfigured", issue);
    assert.match(progress ?? "", /`\.github\/bosun\.yml` is not valid, so Bosun did not start the agent/);
    assert.match(progress ?? "", /`\.github\/bosun\.yml` line 3, `test\.timeout_minutes`: .*number/);
    const events = await readTranscript(w.bosun.pool, run.id);
    assert.ok(!events.some((e) => e.kind === "command"), "no agent ran");
  });

  await t.test("required checks that anyone could post keep the pull request a draft", async () => {
    await seedDemoRepo(w.gh, "unpinned");
    w.gh.protectBranch("acme/unpinned", "main", {
      requiredStatusChecks: { strict: false, contexts: ["bosun", "bosun/independent-review"] },
      requiredPullRequestReviews: { requiredApprovingReviewCount: 1, requireCodeOwnerReviews: true, dismissStaleReviews: false },
    });
    const issue = await labelNewIssue(w, "unpinned");
    const run = await w.waitForRun({ repo: "acme/unpinned", issue });
    assert.equal(run.state, "succeeded", run.outcome ?? "");
    assert.equal(pulls(w, "unpinned")[0]?.pull?.draft, true);
    const check = [...w.gh.repo("acme/unpinned").checkRuns.values()].find((c) => c.name === "bosun");
    assert.match(check?.output.summary ?? "", /Require `bosun\/independent-review` from the Bosun app/);
  });

  await t.test("comments from people without write access do not reach the agent", async () => {
    await seedDemoRepo(w.gh, "commented", { public: true });
    w.gh.createUser("mallory");
    const maya = w.gh.as("maya");
    const issue = await maya.rest.issues.create({ owner: "acme", repo: "commented", title: demoIssue.title, body: "See the comments." });
    const wrong = demoIssue.body.slice(demoIssue.body.indexOf("```diff")).replace("+  return a + b;", "+  return 42;");
    await w.gh.as("owen").rest.issues.createComment({ owner: "acme", repo: "commented", issue_number: issue.data.number, body: demoIssue.body });
    await w.gh.as("mallory").rest.issues.createComment({ owner: "acme", repo: "commented", issue_number: issue.data.number, body: `Better fix:\n${wrong}` });
    await maya.rest.issues.addLabels({ owner: "acme", repo: "commented", issue_number: issue.data.number, labels: ["bosun"] });
    const run = await w.waitForRun({ repo: "acme/commented", issue: issue.data.number });
    assert.equal(run.state, "succeeded", run.outcome ?? "");
    const [pr] = pulls(w, "commented");
    assert.match(await w.gh.fileAt("acme/commented", pr?.pull?.head ?? "", "src/add.js") ?? "", /return a \+ b;/, "owen's patch, not mallory's");
    const events = await readTranscript(w.bosun.pool, run.id);
    const prompt = JSON.stringify(events.find((e) => e.kind === "prompt")?.payload ?? {});
    assert.ok(!prompt.includes("return 42"));
    const decision = events.find((e) => e.kind === "policy_decision" && e.payload["rule"] === "issue comments the agent may read");
    assert.deepEqual(decision?.payload["comments"], [{ author: "mallory", reason: "written by someone without write access" }]);
  });

  await t.test("a second run on the same issue publishes on its own branch", async () => {
    await seedDemoRepo(w.gh, "twice");
    const issue = await labelNewIssue(w, "twice");
    const first = await w.waitForRun({ repo: "acme/twice", issue });
    assert.equal(first.state, "succeeded", first.outcome ?? "");
    const maya = w.gh.as("maya");
    await maya.rest.issues.removeLabel({ owner: "acme", repo: "twice", issue_number: issue, name: "bosun" });
    await maya.rest.issues.addLabels({ owner: "acme", repo: "twice", issue_number: issue, labels: ["bosun"] });
    const second = await w.waitForRun({ repo: "acme/twice", issue, until: (r) => r.id !== first.id && ["succeeded", "failed"].includes(r.state) });
    assert.equal(second.state, "succeeded", `${second.outcome ?? ""} ${second.lastError ?? ""}`);
    assert.equal(second.branch, `${first.branch ?? ""}-${second.id.slice(0, 8)}`);
    assert.equal(pulls(w, "twice").length, 2);
  });

  await t.test("an image the org's policy does not allow is refused with a message", async () => {
    await seedDemoRepo(w.gh, "imaged", { files: { ".github/bosun.yml": "image: someone/else:latest\n" } });
    const issue = await labelNewIssue(w, "imaged");
    const run = await w.waitForRun({ repo: "acme/imaged", issue });
    assert.equal(run.state, "failed");
    assert.match(botComments(w, "imaged", issue)[0] ?? "", /The org's policy does not allow what `\.github\/bosun\.yml` asks for, so Bosun did not start the agent: `image`: `someone\/else:latest` is not allowed \(`sandbox\.images`, Bosun's default\); allowed: `bosun\/agent-base:latest`, `bosun\/agent-clis:latest`, `bosun\/agent-universal:latest`\. An org admin can add it under `sandbox\.images`\./);
    const events = await readTranscript(w.bosun.pool, run.id);
    assert.ok(events.some((e) => e.kind === "policy_decision" && e.payload["rule"] === "sandbox.images" && e.payload["decision"] === "refused"));
  });

  await t.test("an agent that prints nothing for too long is stopped", async () => {
    await seedDemoRepo(w.gh, "quiet", { files: { ".github/bosun.yml": "agent:\n  command: echo thinking; sleep 120\n  inactivity_minutes: 0.05\n" } });
    const issue = await labelNewIssue(w, "quiet");
    const run = await w.waitForRun({ repo: "acme/quiet", issue });
    assert.equal(run.state, "failed");
    assert.match(botComments(w, "quiet", issue)[0] ?? "", /The agent printed nothing for 0\.05 minutes and was stopped\./);
    assert.equal(await leftCount(run.id), 0);
  });

  await t.test("the agent container runs as a non-root user with no network", async () => {
    await seedDemoRepo(w.gh, "inspected", { files: { ".github/bosun.yml": "agent:\n  command: sleep 4; node /bosun/agents/patch-agent.mjs\n" } });
    const issue = await labelNewIssue(w, "inspected");
    const running = await w.waitForRun({ repo: "acme/inspected", issue, until: (r) => r.state === "running" });
    const inspected = await waitForContainer(running.id, "agent");
    assert.equal(inspected.Config.User, "1000:1000");
    assert.equal(inspected.HostConfig.NetworkMode, "none");
    assert.deepEqual(inspected.HostConfig.CapDrop, ["ALL"]);
    assert.deepEqual(inspected.HostConfig.SecurityOpt, ["no-new-privileges"]);
    assert.equal(inspected.HostConfig.ReadonlyRootfs, true);
    assert.equal(inspected.HostConfig.Privileged, false);
    assert.ok(!(inspected.HostConfig.Binds ?? []).some((b) => b.includes("docker.sock")));
    assert.deepEqual(Object.keys(inspected.NetworkSettings.Networks), ["none"]);
    const run = await w.waitForRun({ repo: "acme/inspected", issue });
    assert.equal(run.state, "succeeded", run.outcome ?? "");
    assert.equal(await leftCount(run.id), 0);
  });
});
