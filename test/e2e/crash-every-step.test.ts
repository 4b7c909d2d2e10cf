// Bosun killed with SIGKILL as a run enters each of its steps, then started again (as another
// replica): the run completes, and GitHub shows exactly one progress comment, one branch with the
// one expected commit, one pull request and one check run of each name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { isTerminal, type RunState } from "../../src/runs/run.ts";
import { startBosunCluster, until } from "../helpers/bosun-process.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

/**
 * Where to kill: as the run enters each state (`queued` once a replica has claimed it, so inside
 * authorize), and inside publishing, between its side effects on GitHub.
 */
type KillPoint = { name: string; state: RunState; after?: "push" | "pull request" };
const killPoints: KillPoint[] = [
  ...(["queued", "preparing", "running", "verifying", "publishing"] as const).map((state) => ({ name: `as the run enters ${state}`, state })),
  { name: "after the push, before the pull request", state: "publishing", after: "push" },
  { name: "after the pull request, before the check runs", state: "publishing", after: "pull request" },
];

test("SIGKILL at each step of a run, then a restart: the run completes once", async (t) => {
  const c = await startBosunCluster(t);
  const { gh, store, pool } = c;
  // Every API answer takes a little while, so each step spans several calls.
  gh.setFaults({ latencyMs: 60 });

  for (const [i, point] of killPoints.entries()) {
    const { state } = point;
    await t.test(`killed ${point.name}`, async (st) => {
      const name = `crash-${i}-${state}`;
      await seedDemoRepo(gh, name, { protect: true });
      const first = await c.start(`first-${state}`);
      st.after(() => first.child.kill("SIGKILL"));
      gh.setWebhookUrl(first.webhookUrl);
      const issue = await labelDemoIssue(gh, name);

      const repo = gh.repo(`acme/${name}`);
      const pushed = (): boolean => execFileSync("git", ["for-each-ref", "refs/heads/bosun/"], { cwd: gh.world.git.path("acme", name) }).toString().trim() !== "";
      const runId = await until(point.name, async () => {
        const r = await pool.query<{ id: string; state: RunState; lease_owner: string | null }>("SELECT id, state, lease_owner FROM runs WHERE repo = $1", [name]);
        const row = r.rows[0];
        if (!row || row.state !== state || row.lease_owner === null) return null;
        if (point.after === "push" && !pushed()) return null;
        if (point.after === "pull request" && ![...repo.issues.values()].some((x) => x.pull)) return null;
        return row.id;
      }, 120_000, 5);
      first.child.kill("SIGKILL");
      await first.exited;
      const atKill = await store.get(runId);
      assert.equal(atKill?.state, state, "the process died while the run was in that state");
      if (point.after === "push") assert.equal([...repo.issues.values()].filter((x) => x.pull).length, 0, "killed before the pull request was opened");
      if (point.after === "pull request") assert.equal([...repo.checkRuns.values()].length, 0, "killed before the check runs were posted");

      const second = await c.start(`second-${state}`);
      st.after(() => second.child.kill("SIGKILL"));
      gh.setWebhookUrl(second.webhookUrl);
      const done = await until("the run to end", async () => {
        const r = await store.get(runId);
        return r && isTerminal(r.state) ? r : null;
      }, 240_000);
      assert.equal(done.state, "succeeded", `${done.outcome ?? ""} ${done.lastError ?? ""}`);
      assert.ok(done.attempt >= 2, "a second claim finished the run");

      // The state is written before the issue is told: wait for the comment to catch up.
      await until("the progress comment to show the outcome", () => Promise.resolve([...repo.comments.values()].some((x) => x.issueNumber === issue && x.body.includes("Bosun · ✅"))), 30_000);
      // One progress comment, and one answer to the approval of the held change (Owen's).
      const answers = [...repo.comments.values()].filter((x) => x.user === "bosun[bot]" && x.issueNumber === issue && x.body.includes("bosun:reply"));
      assert.ok(answers.length <= 1, "the approval is answered once at most");
      const botComments = [...repo.comments.values()].filter((x) => x.user === "bosun[bot]" && x.issueNumber === issue && !x.body.includes("bosun:reply"));
      assert.equal(botComments.length, 1, "one progress comment from Bosun on the issue");
      assert.match(botComments[0]?.body ?? "", /bosun:progress/);
      assert.match(botComments[0]?.body ?? "", /Bosun · ✅/);
      assert.ok((repo.issues.get(issue)?.reactions ?? []).filter((r) => r.content === "eyes").length <= 1, "one 👀 at most");

      const pulls = [...repo.issues.values()].filter((i) => i.pull);
      assert.equal(pulls.length, 1, "one pull request");
      const pr = pulls[0];
      assert.equal(pr?.pull?.draft, false, "ready for review: tests pass and the gate is in place");
      for (const check of ["bosun", "bosun/independent-review"]) {
        assert.equal([...repo.checkRuns.values()].filter((x) => x.name === check).length, 1, `one ${check} check run`);
      }

      const branches = execFileSync("git", ["for-each-ref", "--format=%(refname:short)", "refs/heads/bosun/"], { cwd: gh.world.git.path("acme", name) }).toString().trim().split("\n");
      assert.deepEqual(branches, [done.branch], "one bosun/… branch");
      const log = execFileSync("git", ["log", "--format=%H%n%B%n--", `main..${done.branch ?? ""}`], { cwd: gh.world.git.path("acme", name) }).toString();
      const commits = log.split("\n--\n").filter((x) => x.trim());
      assert.equal(commits.length, 1, "one commit on the branch");
      assert.match(commits[0] ?? "", new RegExp(`Bosun-Run: ${done.id}`));
      assert.equal(commits[0]?.split("\n")[0], done.headSha);

      second.child.kill("SIGTERM");
      assert.equal(await second.exited, 0, "SIGTERM with nothing in flight exits cleanly");
    });
  }
});
