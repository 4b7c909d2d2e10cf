// The first start without a GitHub App, as production runs it (`src/main.ts` as a process): the
// setup page registers the app from app.yml with the manifest flow on the offline GitHub, a
// callback with a state this browser was not given is refused, the credentials land in a file only
// Bosun's user may read, Bosun starts in the same process, takes the new app's signed webhooks and
// starts a run for a labelled issue, signs a person in with the new OAuth client, and a second start
// reads the file instead of asking again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";
import { RunStore } from "../../src/runs/store.ts";
import { freePort, removeDeploymentSandboxes } from "../helpers/bosun-world.ts";
import { until } from "../helpers/bosun-process.ts";
import { createTestDatabase } from "../helpers/database.ts";
import { formOf, submitForm } from "../helpers/html-form.ts";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";
import { approveHeldPushes } from "../helpers/approve-held-pushes.ts";

interface Started { child: ChildProcess; output: () => string; exited: Promise<number | null> }

/** Starts `src/main.ts` with no app credentials in its environment; resolves once `ready` is printed. */
async function startMain(env: Record<string, string>, ready: RegExp): Promise<Started> {
  const base = { ...process.env };
  for (const k of ["APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"]) delete base[k];
  const child = spawn(process.execPath, ["src/main.ts"], { env: { ...base, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (ready.test(out)) resolve();
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    void exited.then((code) => reject(new Error(`Bosun exited (${code}) before it printed ${ready}:\n${out}`)));
  });
  return { child, output: () => out, exited };
}

/** The cookies a response sets, as `name=value` for a Cookie header. */
function cookiesOf(res: Response): string {
  return res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
}

test("first start without credentials: register the app from the setup page, install it, run, and start again from the saved file", async (t) => {
  const checked = await startCheckedGitHub(null, { registerApp: false });
  const { gh } = checked;
  // Owen approves the change Bosun holds before pushing, as a second maintainer would.
  const approver = approveHeldPushes(gh);
  t.after(() => approver.stop());
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url });
  const store = new RunStore(pool);
  const scratch = await mkdtemp(join(tmpdir(), "bosun-manifest-"));
  const credentialsFile = join(scratch, "state", "github-app.json");
  const started: Started[] = [];
  t.after(async () => {
    for (const s of started) s.child.kill("SIGKILL");
    await Promise.all(started.map((s) => s.exited));
    await removeDeploymentSandboxes((await pool.query<{ id: string }>("SELECT id FROM bosun_instance").catch(() => ({ rows: [] }))).rows[0]?.id ?? null);
    await pool.end();
    await db.drop();
    await rm(scratch, { recursive: true, force: true });
    await checked.close();
  });

  for (const login of ["maya", "owen", "tess"]) gh.createUser(login);
  gh.createOrg("acme", { admins: ["maya"], members: ["owen", "tess"] });
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const env = {
    GITHUB_API_URL: gh.url, GITHUB_URL: gh.webUrl, GITHUB_ORG: "acme", BOSUN_PUBLIC_URL: publicUrl, BOSUN_CREDENTIALS_FILE: credentialsFile,
    DATABASE_URL: db.url, PORT: String(port), HOST: "127.0.0.1", BOSUN_WORK_DIR: join(scratch, "work"), LOG_LEVEL: "info",
    BOSUN_GITHUB_WRITE_INTERVAL_MS: "10", BOSUN_GITHUB_NOTIFY_INTERVAL_MS: "10",
  };

  // ---- setup mode ------------------------------------------------------------------------------
  const first = await startMain(env, /open the setup page to register one/);
  started.push(first);
  assert.equal((await fetch(`${publicUrl}/api/github/webhooks`, { method: "POST", body: "{}" })).status, 503, "no app, no webhooks");
  assert.equal((await fetch(`${publicUrl}/healthz`)).status, 200);
  assert.equal((await fetch(`${publicUrl}/`, { redirect: "manual" })).headers.get("location"), "/setup");
  // The page is on the public address: it needs the link with the token Bosun printed in its log.
  const setupLink = /"setup":"([^"]+)"/.exec(first.output())?.[1] ?? "";
  assert.match(setupLink, new RegExp(`^${publicUrl}/setup\\?token=[A-Za-z0-9_-]{24}$`), "the log prints the setup link with a token");
  for (const without of [`${publicUrl}/setup`, `${publicUrl}/setup?token=${"x".repeat(24)}`]) {
    const refused = await fetch(without);
    assert.equal(refused.status, 403, without);
    assert.match(await refused.text(), /This setup page needs its link/);
    assert.equal(refused.headers.getSetCookie().length, 0, "no state for a stranger");
  }

  // A right state with a code GitHub never gave: GitHub says 404, Bosun says so, and saves nothing.
  const earlier = await fetch(setupLink);
  const earlierState = new URL(formOf(await earlier.text(), setupLink).action).searchParams.get("state") ?? "";
  // A HEAD (a link preview, say) spends neither the state nor a code.
  assert.equal((await fetch(`${publicUrl}/setup/callback?code=${"0".repeat(40)}&state=${earlierState}`, { method: "HEAD", headers: { cookie: cookiesOf(earlier) } })).status, 405);
  const bogus = await fetch(`${publicUrl}/setup/callback?code=${"0".repeat(40)}&state=${earlierState}`, { headers: { cookie: cookiesOf(earlier) }, redirect: "manual" });
  assert.equal(bogus.status, 502);
  assert.match(await bogus.text(), /GitHub did not hand over the app&#39;s credentials/);
  await assert.rejects(stat(credentialsFile), { code: "ENOENT" });

  const setupPage = await fetch(setupLink);
  assert.equal(setupPage.status, 200);
  const browserCookie = cookiesOf(setupPage);
  const form = formOf(await setupPage.text(), setupLink);
  const action = new URL(form.action);
  assert.equal(`${action.origin}${action.pathname}`, `${gh.webUrl}/organizations/acme/settings/apps/new`, "registered for GITHUB_ORG on GITHUB_URL");
  const state = action.searchParams.get("state") ?? "";
  assert.ok(state.length >= 32, "a random state");
  const manifest = JSON.parse(form.fields["manifest"] ?? "") as Record<string, unknown>;
  assert.deepEqual(manifest["hook_attributes"], { url: `${publicUrl}/api/github/webhooks` });
  assert.equal(manifest["redirect_url"], `${publicUrl}/setup/callback`);
  assert.deepEqual(manifest["callback_urls"], [`${publicUrl}/login/callback`]);
  assert.deepEqual(manifest["default_events"], ["issues", "issue_comment", "pull_request", "pull_request_review"]);
  assert.equal((manifest["default_permissions"] as Record<string, string>)["contents"], "write");

  // A callback that does not carry this browser's state is refused, and registers nothing.
  const forged = await fetch(`${publicUrl}/setup/callback?code=${"0".repeat(40)}&state=not-the-state`, { headers: { cookie: browserCookie }, redirect: "manual" });
  assert.equal(forged.status, 400);
  assert.match(await forged.text(), /This setup link is not valid/);
  const otherBrowser = await fetch(`${publicUrl}/setup/callback?code=${"0".repeat(40)}&state=${state}`, { redirect: "manual" });
  assert.equal(otherBrowser.status, 400, "the right state from a browser that was not given it is refused too");
  await assert.rejects(stat(credentialsFile), { code: "ENOENT" });

  // On GitHub: the manifest form, the confirmation page, "Create GitHub App for acme".
  const confirm = await submitForm(form);
  const confirmPage = await confirm.text();
  assert.equal(confirm.status, 200, confirmPage);
  const created = await submitForm(formOf(confirmPage, form.action), { login: "maya" });
  assert.equal(created.status, 302);
  const callback = new URL(created.headers.get("location") ?? "");
  assert.equal(`${callback.origin}${callback.pathname}`, `${publicUrl}/setup/callback`);
  assert.equal(callback.searchParams.get("state"), state);

  // Back at Bosun: the code is traded, the credentials saved, and the person sent on to install.
  const done = await fetch(callback, { headers: { cookie: browserCookie }, redirect: "manual" });
  assert.equal(done.status, 303, await done.text());
  assert.equal(done.headers.get("location"), `${gh.webUrl}/apps/bosun/installations/new`);
  await until("Bosun to start after setup", () => Promise.resolve(/Bosun is listening/.test(first.output())), 60_000);
  assert.equal(((await stat(credentialsFile)).mode & 0o777).toString(8), "600");
  assert.equal(((await stat(dirname(credentialsFile))).mode & 0o777).toString(8), "700");
  const saved = JSON.parse(await readFile(credentialsFile, "utf8")) as Record<string, string>;
  assert.deepEqual(saved, {
    APP_ID: String(gh.appId), PRIVATE_KEY: gh.privateKey, WEBHOOK_SECRET: gh.webhookSecret,
    GITHUB_CLIENT_ID: gh.clientId, GITHUB_CLIENT_SECRET: gh.clientSecret, APP_HTML_URL: `${gh.webUrl}/apps/bosun`,
  });
  for (const secret of [gh.privateKey.split("\n")[1] ?? "", gh.webhookSecret, gh.clientSecret]) {
    assert.ok(!first.output().includes(secret), "no credential is printed or logged");
  }
  assert.equal(gh.hooks.url, `${publicUrl}/api/github/webhooks`, "GitHub sends webhooks where the manifest said");

  // Installing the app on acme ends on Bosun's dashboard.
  const installUrl = done.headers.get("location") ?? "";
  const installForm = formOf(await (await fetch(installUrl)).text(), installUrl);
  const installed = await submitForm(installForm, { login: "maya" });
  assert.equal(installed.status, 302);
  const landing = new URL(installed.headers.get("location") ?? "");
  assert.equal(`${landing.origin}${landing.pathname}`, `${publicUrl}/runs`);
  assert.equal(landing.searchParams.get("setup_action"), "install");

  // ---- Bosun at work with the new app ------------------------------------------------------------
  await seedDemoRepo(gh, "widgets");
  const issue = await labelDemoIssue(gh, "widgets");
  const run = await until("a started run for the labelled issue", async () => {
    const runs = await store.list({ owner: "acme", repo: "widgets", issueNumber: issue });
    return runs.find((r) => ["running", "verifying", "publishing", "succeeded"].includes(r.state));
  }, 180_000);
  assert.equal(run.issueNumber, issue);
  const labelled = gh.hooks.deliveries.find((d) => d.event === "issues" && d.action === "labeled");
  assert.equal(labelled?.attempts[0]?.status, 200, "Bosun verified the new app's signature");

  // Signing in to the dashboard uses the new app's OAuth client and its registered callback URL.
  const login = await fetch(`${publicUrl}/login`, { redirect: "manual" });
  const authorizeUrl = login.headers.get("location") ?? "";
  assert.ok(authorizeUrl.startsWith(`${gh.webUrl}/login/oauth/authorize?`), authorizeUrl);
  const authorized = await submitForm(formOf(await (await fetch(authorizeUrl)).text(), authorizeUrl), { login: "maya", authorize: "1" });
  assert.equal(authorized.status, 302, await authorized.text());
  const signedIn = await fetch(authorized.headers.get("location") ?? "", { headers: { cookie: cookiesOf(login) }, redirect: "manual" });
  assert.equal(signedIn.status, 303, await signedIn.text());
  const runsPage = await fetch(`${publicUrl}/runs`, { headers: { cookie: cookiesOf(signedIn) } });
  assert.equal(runsPage.status, 200);
  assert.match(await runsPage.text(), /acme\/widgets/);

  // ---- a second start reads the file -----------------------------------------------------------------
  first.child.kill("SIGTERM");
  assert.equal(await first.exited, 0);
  const second = await startMain(env, /Bosun is listening/);
  started.push(second);
  assert.match(second.output(), /"credentials":"file"/);
  assert.doesNotMatch(second.output(), /open the setup page/);
  assert.equal((await fetch(`${publicUrl}/setup`, { redirect: "manual" })).status, 404, "no setup page once the app exists");
  assert.ok(labelled);
  await gh.hooks.redeliver(labelled.guid);
  assert.equal(labelled.attempts.at(-1)?.status, 200, "the second start checks the new app's signatures too");
  await until("the run to end", async () => {
    const r = await store.get(run.id);
    return r && ["succeeded", "failed", "cancelled", "refused"].includes(r.state) ? r : null;
  }, 240_000);
});
