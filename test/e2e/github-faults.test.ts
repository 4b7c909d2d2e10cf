// A flaky GitHub: one call in ten answers 5xx, and a burst of secondary rate limits arrives.
// Octokit's retry and throttling plugins (bundled with Probot) carry the runs through; a call that
// keeps failing fails its run with a message that says what GitHub answered, rather than hanging.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";


test("GitHub faults", async (t) => {
  const w = await startBosunWorld(t);

  await t.test("10% of calls fail with 5xx and a secondary rate limit burst: the runs still complete", async () => {
    const repos = ["flaky-1", "flaky-2", "flaky-3"];
    for (const r of repos) await seedDemoRepo(w.gh, r, { protect: true });
    const issues: number[] = [];
    for (const r of repos) issues.push(await labelDemoIssue(w.gh, r));
    // Faults begin now, with Bosun's calls (the people's calls above have no retries of their own).
    const before = w.gh.requests.length;
    w.gh.setFaults({ serverErrors: { rate: 0.1, status: 502 }, secondaryRateLimit: { count: 4, retryAfterSeconds: 1 }, seed: 11 });
    const runs = await Promise.all(repos.map((repo, i) => w.waitForRun({ repo: `acme/${repo}`, issue: issues[i] ?? 0 })));
    w.gh.setFaults({});
    for (const run of runs) assert.equal(run.state, "succeeded", `${run.repo}: ${run.outcome ?? ""} ${run.lastError ?? ""}`);
    for (const repo of repos) {
      const r = w.gh.repo(`acme/${repo}`);
      assert.equal([...r.issues.values()].filter((i) => i.pull).length, 1, `${repo}: one pull request`);
      assert.equal([...r.comments.values()].filter((c) => c.user === "bosun[bot]" && !c.body.includes("bosun:reply")).length, 1, `${repo}: one progress comment`);
      assert.equal([...r.comments.values()].filter((c) => c.user === "bosun[bot]" && c.body.includes("bosun:reply")).length, 1, `${repo}: one answer to the approval of the held change`);
      assert.equal([...r.checkRuns.values()].filter((c) => c.name === "bosun").length, 1, `${repo}: one bosun check run`);
    }
    const faults = w.gh.faults.injected;
    assert.ok(faults.filter((f) => f.kind === "server-error").length >= 5, `5xx answers were given (${faults.length})`);
    assert.equal(faults.filter((f) => f.kind === "secondary-rate-limit").length, 4);
    // Every refused call was made again and then answered: a 404 is an answer too (a dev container
    // file the repository does not have), a 403, 429 or 5xx is not.
    const later = w.gh.requests.slice(before);
    const answered = (status: number) => status < 500 && status !== 403 && status !== 429;
    for (const f of faults) {
      assert.ok(later.some((q) => q.method === f.method && q.path === f.path && q.at > f.at && answered(q.status)), `${f.method} ${f.path} (${f.status}) was retried and answered`);
    }
  });

  await t.test("a call that keeps failing fails the run with GitHub's answer", async () => {
    await seedDemoRepo(w.gh, "broken-pulls");
    w.gh.setFaults({ serverErrors: { rate: 1, status: 502 }, match: /^POST \/repos\/acme\/broken-pulls\/pulls$/ });
    t.after(() => w.gh.setFaults({}));
    const issue = await labelDemoIssue(w.gh, "broken-pulls");
    const run = await w.waitForRun({ repo: "acme/broken-pulls", issue });
    w.gh.setFaults({});
    assert.equal(run.state, "failed");
    assert.match(run.lastError ?? "", /GitHub answered 502 to POST \/repos\/acme\/broken-pulls\/pulls/);
    const attempts = w.gh.requests.filter((q) => q.method === "POST" && q.path === "/repos/acme/broken-pulls/pulls");
    assert.ok(attempts.length >= 2, `the call was retried before giving up (${attempts.length} attempts)`);
    const progress = [...w.gh.repo("acme/broken-pulls").comments.values()].find((c) => c.body.includes("bosun:progress"))?.body ?? "";
    assert.match(progress, /GitHub kept failing after Bosun retried, so the run stopped\. Comment `\/bosun retry` to start it again\./);
    assert.match(progress, /GitHub answered 502 to POST \/repos\/acme\/broken-pulls\/pulls/);
  });
});
