// The dashboard against people who should not get what they ask for: a sign-in link whose `next`
// leads to another site, the next owner of a renamed or transferred repository's old name, and
// someone outside the org reading a public repository's run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { startBosunWorld, type BosunWorld } from "../../helpers/bosun-world.ts";
import { signInOverHttp } from "../../helpers/dashboard-sign-in.ts";
import { homeNext, hostileNext } from "../../helpers/hostile-next.ts";
import { labelDemoIssue, seedDemoRepo } from "../../helpers/seed.ts";

const api = (w: BosunWorld, login: string) => (path: string): Promise<Response> =>
  fetch(`${w.bosun.url}${path}`, { headers: { authorization: `Bearer ${w.gh.userToken(login)}` } });

test("after sign-in the redirect stays on Bosun, whatever next says", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "widgets");
  for (const [next, why] of hostileNext) {
    const { location } = await signInOverHttp(w, "maya", next);
    assert.equal(location, "/runs", `${JSON.stringify(next)} (${why})`);
  }
  for (const [next, kept] of homeNext) assert.equal((await signInOverHttp(w, "maya", next)).location, kept, next);
});

test("runs belong to the repository's id: the next owner of a renamed or transferred repository's name does not see them", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "ledger");
  await seedDemoRepo(w.gh, "harbor");
  const ledger = await w.waitForRun({ repo: "acme/ledger", issue: await labelDemoIssue(w.gh, "ledger", { label: "bosun:plan" }) });
  const harbor = await w.waitForRun({ repo: "acme/harbor", issue: await labelDemoIssue(w.gh, "harbor", { label: "bosun:plan" }) });
  assert.equal(ledger.state, "succeeded", ledger.outcome ?? "");
  assert.equal(harbor.state, "succeeded", harbor.outcome ?? "");
  w.gh.createUser("newcomer");
  w.gh.createUser("olga");
  const maya = api(w, "maya");
  const newcomer = api(w, "newcomer");

  // A rename: GitHub's old name leads to the repository, so its readers still see its runs.
  await w.gh.moveRepo("acme/ledger", "acme/ledger-archive");
  assert.equal((await maya(`/api/runs/${ledger.id}`)).status, 200, "renamed: the old name still leads to the same repository");
  // A transfer to another account.
  await w.gh.moveRepo("acme/harbor", "olga/harbor");

  // Someone makes new repositories with the old names and lets the newcomer read them.
  for (const name of ["acme/ledger", "acme/harbor"]) {
    await w.gh.createRepo(name, { files: { "README.md": "new\n" } });
    w.gh.addCollaborator(name, "newcomer", "read");
  }
  for (const run of [ledger, harbor]) {
    for (const path of [`/api/runs/${run.id}`, `/api/runs/${run.id}/summary`, `/api/runs/${run.id}/transcript.jsonl`]) {
      const res = await newcomer(path);
      assert.equal(res.status, 404, `${path}: the new ${run.owner}/${run.repo} is another repository`);
      assert.deepEqual(await res.json(), { message: "Not Found" });
    }
  }
  assert.deepEqual(((await (await newcomer("/api/runs")).json()) as { runs: unknown[] }).runs, [], "the newcomer's list is empty");
  // The renamed repository's readers still find its runs, under its new name (the app's
  // installation says where its repository went); the transferred one left the installation.
  assert.equal((await maya(`/api/runs/${ledger.id}`)).status, 200, "a reader of acme/ledger-archive still sees its run");
  const mayaList = (await (await maya("/api/runs")).json()) as { runs: { id: string }[] };
  assert.ok(mayaList.runs.some((r) => r.id === ledger.id), "and lists it");
  const { cookie } = await signInOverHttp(w, "newcomer");
  const page = await fetch(`${w.bosun.url}/runs/${ledger.id}`, { headers: { cookie } });
  assert.equal(page.status, 404, "the run's page too");
  assert.doesNotMatch(await (await fetch(`${w.bosun.url}/runs`, { headers: { cookie } })).text(), new RegExp(ledger.id), "and the runs page");
});

test("someone outside the org reads a public repository's run without the org policy's internals", async (t) => {
  // The org's internal build host, pinned to an address, reached by the agent through the proxy.
  const internal = createServer((_req, res) => res.end("ok"));
  internal.listen(0, "127.0.0.1");
  await once(internal, "listening");
  t.after(() => internal.close());
  const port = (internal.address() as AddressInfo).port;
  process.env["BOSUN_SECRET_DEPLOY_KEY"] = "deploy-key-value-0123456789";
  t.after(() => delete process.env["BOSUN_SECRET_DEPLOY_KEY"]);

  const w = await startBosunWorld(t);
  const probe = `import http from "node:http";
await new Promise((done) => http.get({ host: "127.0.0.1", port: 3128, path: "http://build.corp.internal:${port}/", headers: { host: "build.corp.internal:${port}" } }, (r) => { r.resume(); r.on("end", done); }).on("error", done));
`;
  await seedDemoRepo(w.gh, "lighthouse", { public: true, files: { "probe.mjs": probe, ".github/bosun.yml": 'agent:\n  command: "node probe.mjs && node /bosun/agents/patch-agent.mjs"\n' } });
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": `sandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: ["build.corp.internal:${port}"]\n      addresses: { build.corp.internal: 127.0.0.1 }\n      secrets: [DEPLOY_KEY]\n` } });
  const run = await w.waitForRun({ repo: "acme/lighthouse", issue: await labelDemoIssue(w.gh, "lighthouse", { label: "bosun:plan" }) });
  assert.equal(run.state, "succeeded", run.outcome ?? "");
  w.gh.createUser("stranger");

  // The internal host and its pinned address, the secret's name, where the org's settings come
  // from. (That a policy token read acme/.github stays: that is where every org's policy lives.)
  const internals = [/build\.corp\.internal/, /DEPLOY_KEY/, /acme\/\.github: \.github\/bosun\.yml/];
  const views = async (login: string): Promise<{ jsonl: string; summary: string; page: string; live: string }> => {
    const get = api(w, login);
    const { cookie } = await signInOverHttp(w, login);
    return {
      jsonl: await (await get(`/api/runs/${run.id}/transcript.jsonl`)).text(),
      summary: await (await get(`/api/runs/${run.id}/summary`)).text(),
      page: await (await fetch(`${w.bosun.url}/runs/${run.id}`, { headers: { cookie } })).text(),
      live: await (await fetch(`${w.bosun.url}/runs/${run.id}/live?after=0`, { headers: { cookie } })).text(),
    };
  };
  // A member sees all of it (so the check below can fail)…
  const member = await views("maya");
  for (const re of internals) assert.match(member.jsonl, re, `a member's export has ${re}`);
  assert.match(member.summary, /build\.corp\.internal/, "and the host reached in the summary");
  // …someone outside the org none of it, in any view.
  const outsider = await views("stranger");
  assert.match(outsider.jsonl, /"kind":"policy_decision"/, "the outsider reads the run");
  for (const [view, text] of Object.entries(outsider)) {
    assert.ok(text.length > 100, `${view} answered`);
    for (const re of internals) assert.doesNotMatch(text, re, `${view} shows no ${re}`);
  }
  const events = outsider.jsonl.trimEnd().split("\n").map((l) => JSON.parse(l) as { kind: string; payload: Record<string, unknown> });
  const reached = events.find((e) => e.kind === "network" && e.payload["allowed"] === true);
  assert.equal(reached?.payload["host"], "(a host the org's policy lists)");
  assert.ok(events.some((e) => e.kind === "policy_decision" && e.payload["rule"] === "effective settings" && e.payload["redacted"] === "the org's policy details are shown to members of acme"));
});
