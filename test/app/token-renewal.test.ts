// A run outlives its tokens (GitHub's last an hour; a run may work for days): the broker mints a
// new one before the old expires and revokes the old, and both show in the transcript's terms.
// Here the offline GitHub's tokens last a few seconds past the broker's five-minute margin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { Probot } from "probot";
import { Redactor } from "../../src/audit/redactor.ts";
import { TokenBroker } from "../../src/github/tokens.ts";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

test("a token near its expiry is minted again, and the old one revoked", async (t) => {
  const { gh } = await startCheckedGitHub(t);
  await seedDemoRepo(gh, "long");
  gh.world.tokenLifetimeMs = 5 * 60 * 1000 + 2_000;
  const app = new Probot({ appId: gh.appId, privateKey: gh.privateKey, baseUrl: gh.url, log: pino({ level: "warn" }) });
  const repo = gh.repo("acme/long");
  const broker = new TokenBroker({
    app, apiUrl: gh.url, log: pino({ level: "warn" }), transcript: null, redactor: new Redactor(),
    target: { installationId: gh.world.installationFor("acme")?.id ?? 0, repoId: repo.id, repoFullName: "acme/long" },
  });

  const first = await broker.get("report");
  assert.equal((await broker.get("report")).token, first.token, "a token with time left is used again");
  await new Promise((r) => setTimeout(r, 2_500));
  const second = await broker.get("report");
  assert.notEqual(second.token, first.token, "within five minutes of its expiry, a new token is minted");
  const byValue = (v: string) => gh.installationTokens().find((tk) => tk.token === v);
  assert.ok(byValue(first.token)?.revokedAt, "the old token was revoked");
  assert.equal(byValue(second.token)?.revokedAt, null);
  await second.octokit.rest.issues.create({ owner: "acme", repo: "long", title: "still here" });
  assert.deepEqual(byValue(second.token)?.permissions, { issues: "write", metadata: "read" }, "the new token has the purpose's permissions only");
  await broker.revokeAll();
  assert.ok(byValue(second.token)?.revokedAt, "and it is revoked when the run is done with it");
});
