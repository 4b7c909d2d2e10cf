// Two Bosun replicas on one Postgres take 40 labelled issues across 4 repositories, every
// webhook delivered three times (once by GitHub, then again to each replica at once): every run
// completes exactly once, GitHub sees no side effect twice, and the org's per-repository
// concurrency limit holds throughout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { isTerminal } from "../../src/runs/run.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunCluster, until } from "../helpers/bosun-process.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const repos = ["alpha", "bravo", "charlie", "delta"];
const perRepo = 10;
const limit = 2;

test("two replicas, 40 issues, each webhook three times: every run once", async (t) => {
  const c = await startBosunCluster(t, { BOSUN_CONCURRENCY: "2" });
  const { gh, store, pool } = c;
  for (const r of repos) await seedDemoRepo(gh, r);
  await gh.createRepo("acme/.github", { files: { ".github/bosun.yml": `concurrency:\n  runs_per_repository: ${limit}\n` } });
  const a = await c.start("replica-a");
  const b = await c.start("replica-b");
  gh.setWebhookUrl(a.webhookUrl);

  // Watch the runs while they work: never more than the limit per repository at once.
  let watching = true;
  let mostAtOnce = 0;
  const watcher = (async () => {
    while (watching) {
      const r = await pool.query<{ repo: string; n: string }>("SELECT repo, count(*) AS n FROM runs WHERE state IN ('preparing', 'running', 'verifying', 'publishing') GROUP BY repo");
      for (const row of r.rows) mostAtOnce = Math.max(mostAtOnce, Number(row.n));
      await new Promise((res) => setTimeout(res, 50));
    }
  })();

  // One repository's issues after another, so the first runs queued all belong to one repository
  // and the workers press against its limit.
  const issues: { repo: string; number: number }[] = [];
  for (const repo of repos) {
    for (let i = 0; i < perRepo; i++) {
      issues.push({ repo, number: await labelDemoIssue(gh, repo, { title: `${demoIssue.title} (${i})` }) });
    }
  }
  await gh.hooks.settled();
  const labelled = gh.hooks.deliveries.filter((d) => d.event === "issues" && d.action === "labeled");
  assert.equal(labelled.length, repos.length * perRepo);
  // The same deliveries again, to both replicas at once.
  const again = await Promise.all(labelled.flatMap((d) => [c.deliverAgain(d, b), c.deliverAgain(d, a)]));
  assert.ok(again.every((s) => s >= 200 && s < 300), `every repeated delivery was accepted: ${again.join(", ")}`);

  const runs = await until("every run to end", async () => {
    const all = await store.list({ owner: "acme" });
    return all.length >= issues.length && all.every((r) => isTerminal(r.state)) ? all : null;
  }, 900_000, 500);
  watching = false;
  await watcher;

  assert.equal(runs.length, issues.length, "one run per issue");
  assert.deepEqual(runs.filter((r) => r.state !== "succeeded").map((r) => `${r.repo}#${r.issueNumber}: ${r.state} ${r.outcome ?? ""}`), []);
  const deliveries = await pool.query<{ n: string }>("SELECT count(*) AS n FROM deliveries WHERE event = 'issues' AND action = 'labeled'");
  assert.equal(Number(deliveries.rows[0]?.n), issues.length, "each delivery recorded once");
  assert.ok(mostAtOnce <= limit, `at most ${limit} runs of a repository worked at once (saw ${mostAtOnce})`);
  // The limit was tested: some run found it reached and waited (decided under the store's lock, so
  // exact, unlike the watcher's sampling).
  const waited = await pool.query<{ n: string }>("SELECT count(*) AS n FROM run_events WHERE kind = 'policy_decision' AND payload->>'rule' = 'concurrency' AND (payload->'working'->>'repository')::int = $1", [limit]);
  assert.ok(Number(waited.rows[0]?.n) > 0, "some run waited because its repository had reached the limit");

  // GitHub's side: each side effect once.
  await until("every progress comment to show its outcome", () => Promise.resolve(issues.every(({ repo, number }) =>
    [...gh.repo(`acme/${repo}`).comments.values()].some((x) => x.issueNumber === number && x.body.includes("Bosun · ✅")))), 60_000);
  for (const repo of repos) {
    const r = gh.repo(`acme/${repo}`);
    const pulls = [...r.issues.values()].filter((i) => i.pull);
    assert.equal(pulls.length, perRepo, `${repo}: one pull request per issue`);
    for (const { number } of issues.filter((x) => x.repo === repo)) {
      assert.equal([...r.comments.values()].filter((x) => x.issueNumber === number && x.user === "bosun[bot]" && !x.body.includes("bosun:reply")).length, 1, `${repo}#${number}: one comment from Bosun`);
    }
    const checks = [...r.checkRuns.values()];
    assert.equal(checks.filter((x) => x.name === "bosun").length, perRepo, `${repo}: one bosun check per run`);
    assert.equal(checks.filter((x) => x.name === "bosun/independent-review").length, perRepo);
  }
  const posts = (route: string): number => gh.requests.filter((q) => q.method === "POST" && q.route === route && q.status < 300).length;
  assert.equal(posts("/repos/{owner}/{repo}/pulls"), issues.length, "each pull request created once");
  assert.equal(posts("/repos/{owner}/{repo}/check-runs"), 2 * issues.length, "each check run created once");
  // Bosun's comments: each progress comment, and each answer to the approval of a held change, once.
  const bosunComments = gh.requests.filter((q) => q.method === "POST" && q.route === "/repos/{owner}/{repo}/issues/{issue_number}/comments" && q.status < 300 && q.principal === "installation").length;
  assert.equal(bosunComments, 2 * issues.length, "each progress comment and each approval's answer created once");

  // Each step of each run happened once: the transcript's state changes are the plain path.
  for (const run of runs) {
    const moves = (await readTranscript(pool, run.id)).filter((e) => e.kind === "state").map((e) => e.payload["to"]);
    assert.deepEqual(moves, ["preparing", "running", "verifying", "awaiting_push_approval", "publishing", "succeeded"], `${run.repo}#${run.issueNumber}`);
  }
  // Both replicas did work.
  for (const replica of [a, b]) assert.match(replica.output(), /"msg":"run state changed"/, `${replica.name} worked on runs`);
});
