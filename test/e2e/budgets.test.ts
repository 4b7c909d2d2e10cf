// A spent daily budget (runs, or sandbox minutes) refuses the next run, with the figures, before
// any agent starts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { startBosunWorld, type BosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";


function refusalOn(w: BosunWorld, repo: string, issue: number): string {
  return [...w.gh.repo(`acme/${repo}`).comments.values()].find((c) => c.issueNumber === issue && c.user === "bosun[bot]")?.body ?? "";
}

test("daily budgets", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "budgeted");
  await seedDemoRepo(w.gh, "metered");
  await w.gh.createRepo("acme/.github", {
    files: {
      ".github/bosun.yml": [
        "budgets:",
        "  runs_per_day_per_repository: 1",
        "repositories:",
        "  - match: metered",
        "    budgets:",
        "      runs_per_day_per_repository: null",
        "      sandbox_minutes_per_day_per_repository: 0.001",
        "",
      ].join("\n"),
    },
  });

  await t.test("runs per day per repository", async () => {
    const first = await w.waitForRun({ repo: "acme/budgeted", issue: await labelDemoIssue(w.gh, "budgeted") });
    assert.equal(first.state, "succeeded", first.outcome ?? "");
    const second = await labelDemoIssue(w.gh, "budgeted");
    const refused = await w.waitForRun({ repo: "acme/budgeted", issue: second });
    assert.equal(refused.state, "refused");
    assert.match(refusalOn(w, "budgeted", second), /Bosun did not start: the daily budget of 1 run for acme\/budgeted is spent \(1 started today, UTC\); it renews at midnight UTC, or an org admin can raise `budgets\.runs_per_day_per_repository` in the org's policy \(acme\/\.github: \.github\/bosun\.yml\)\./);
    const events = await readTranscript(w.bosun.pool, refused.id);
    assert.ok(events.some((e) => e.kind === "policy_decision" && e.payload["rule"] === "budgets.runs_per_day_per_repository" && e.payload["used"] === 1 && e.payload["limit"] === 1));
    assert.ok(!events.some((e) => e.kind === "prompt"), "no agent was given anything");
  });

  await t.test("sandbox minutes per day, lifted run limit, from a per-repository override", async () => {
    const first = await w.waitForRun({ repo: "acme/metered", issue: await labelDemoIssue(w.gh, "metered") });
    assert.equal(first.state, "succeeded", first.outcome ?? "");
    const usage = await w.bosun.pool.query<{ phase: string }>("SELECT phase FROM sandbox_usage WHERE run_id = $1 ORDER BY id", [first.id]);
    assert.deepEqual(usage.rows.map((r) => r.phase), ["agent", "test"], "the agent's and the tests' containers were counted");
    const second = await labelDemoIssue(w.gh, "metered");
    const refused = await w.waitForRun({ repo: "acme/metered", issue: second });
    assert.equal(refused.state, "refused");
    assert.match(refusalOn(w, "metered", second), /Bosun did not start: the daily budget of 0\.001 sandbox minutes for acme\/metered is spent \(\d+\.\d\d used today, UTC\); it renews at midnight UTC, or an org admin can raise `budgets\.sandbox_minutes_per_day_per_repository` in the org's policy \(acme\/\.github: \.github\/bosun\.yml, repositories\[0\] \(metered\)\)\./);
    const events = await readTranscript(w.bosun.pool, refused.id);
    assert.ok(!events.some((e) => e.kind === "policy_decision" && e.payload["rule"] === "budgets.runs_per_day_per_repository"), "the run budget the override lifted is not checked");
    assert.ok(events.some((e) => e.kind === "policy_decision" && e.payload["rule"] === "budgets.sandbox_minutes_per_day_per_repository" && e.payload["decision"] === "refused"));
  });
});
