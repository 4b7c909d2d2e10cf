// The real Probot app, loaded with the offline GitHub's app id and private key, receives signed
// webhooks over HTTP and answers through Octokit; a forged delivery changes nothing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

test("a signed issues.labeled webhook gets a comment back; a forged or repeated one does nothing", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "hooks");
  const tess = w.gh.as("tess");
  const issue = await w.gh.as("maya").rest.issues.create({ owner: "acme", repo: "hooks", title: "Please look", body: "Something." });
  await tess.rest.issues.addLabels({ owner: "acme", repo: "hooks", issue_number: issue.data.number, labels: ["bosun"] });
  const run = await w.waitForRun({ repo: "acme/hooks", issue: issue.data.number });
  assert.equal(run.state, "refused");

  const delivery = w.gh.hooks.deliveries.find((d) => d.event === "issues" && d.action === "labeled");
  assert.ok(delivery);
  assert.equal(delivery.attempts[0]?.status, 200, "Probot verified the signature and accepted the delivery");
  const comments = [...w.gh.repo("acme/hooks").comments.values()].filter((c) => c.issueNumber === issue.data.number);
  assert.equal(comments.length, 1);
  assert.equal(comments[0]?.user, "bosun[bot]");
  assert.match(comments[0]?.body ?? "", /Bosun did not start: @tess has triage access/);

  // The same delivery again (GitHub's redelivery keeps the delivery id): no second run, no comment.
  await w.gh.hooks.redeliver(delivery.guid);
  await w.bosun.worker.idle();
  assert.equal((await w.bosun.store.list({ owner: "acme", repo: "hooks" })).length, 1);

  // A forged delivery: right shape, wrong signature.
  const forged = await fetch(w.bosun.webhookUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": "forged-1",
      "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
    },
    body: JSON.stringify({ ...delivery.payload, sender: { ...(delivery.payload["sender"] as object), login: "maya" } }),
  });
  assert.ok(forged.status >= 400 && forged.status < 500, `forged delivery answered ${forged.status}`);
  await w.bosun.worker.idle();
  assert.equal((await w.bosun.store.list({ owner: "acme", repo: "hooks" })).length, 1);
  assert.equal([...w.gh.repo("acme/hooks").comments.values()].length, 1);
});
