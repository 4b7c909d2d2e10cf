// A spent daily budget refuses the next run, with the figures, before any agent starts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

test("the daily run budget of a repository", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "budgeted");
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "budgets:\n  runs_per_day_per_repository: 1\n" } });
  const maya = w.gh.as("maya");
  const label = async (): Promise<number> => {
    const issue = await maya.rest.issues.create({ owner: "acme", repo: "budgeted", title: demoIssue.title, body: demoIssue.body });
    await maya.rest.issues.addLabels({ owner: "acme", repo: "budgeted", issue_number: issue.data.number, labels: ["bosun"] });
    return issue.data.number;
  };
  const first = await w.waitForRun({ repo: "acme/budgeted", issue: await label() });
  assert.equal(first.state, "succeeded", first.outcome ?? "");

  const second = await label();
  const refused = await w.waitForRun({ repo: "acme/budgeted", issue: second });
  assert.equal(refused.state, "refused");
  const comment = [...w.gh.repo("acme/budgeted").comments.values()].find((c) => c.issueNumber === second && c.user === "bosun[bot]");
  assert.match(comment?.body ?? "", /Bosun did not start: the daily budget of 1 run for acme\/budgeted is spent \(1 started today, UTC\); it renews at midnight UTC, or an org admin can raise `budgets` in the org's policy\./);
  const events = await readTranscript(w.bosun.pool, refused.id);
  assert.ok(events.some((e) => e.kind === "policy_decision" && e.payload["rule"] === "daily run budget" && e.payload["used"] === 1 && e.payload["limit"] === 1));
  assert.ok(!events.some((e) => e.kind === "prompt"), "no agent was given anything");
});
