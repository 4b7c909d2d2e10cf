// Registering the GitHub App from a manifest on the offline GitHub, as GitHub's docs describe it:
// the manifest form, the confirmation page, the redirect with code and state, the code traded once
// for the app's credentials, the app installed from its page, and webhooks sent to the manifest's
// hook URL signed with the secret GitHub made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { RequestError } from "@octokit/request-error";
import { Octokit } from "@octokit/rest";
import { verify } from "@octokit/webhooks-methods";
import { appJwt, octokitWith } from "../helpers/app-jwt.ts";
import { formOf, submitForm } from "../helpers/html-form.ts";
import { createAppFromManifest } from "../helpers/manifest-flow.ts";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import type { OfflineGitHub } from "./server.ts";

// Never fetched: the tests read redirects instead of following them.
const app = "http://127.0.0.1:9";

function manifest(hookUrl: string): Record<string, unknown> {
  return {
    name: "Bosun Test",
    url: `${app}/`,
    description: "A test app.",
    hook_attributes: { url: hookUrl },
    redirect_url: `${app}/setup/callback`,
    callback_urls: [`${app}/login/callback`],
    setup_url: `${app}/runs`,
    public: false,
    default_permissions: { contents: "write", issues: "write", members: "read" },
    default_events: ["issues", "issue_comment"],
  };
}

/** The app's part: trades the code, with no credentials, as GitHub documents. */
async function convert(gh: OfflineGitHub, code: string) {
  return new Octokit({ baseUrl: gh.url }).request("POST /app-manifests/{code}/conversions", { code });
}

async function refusedStatus(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof RequestError) return e.status;
    throw e;
  }
  assert.fail("the call was expected to be refused");
}

async function receiver(t: Parameters<typeof startCheckedGitHub>[0]): Promise<{ url: string; received: { event: string; body: string; signature: string }[] }> {
  const received: { event: string; body: string; signature: string }[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ event: String(req.headers["x-github-event"]), body: Buffer.concat(chunks).toString("utf8"), signature: String(req.headers["x-hub-signature-256"]) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t?.after(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/github/webhooks`, received };
}

test("an organization's owner registers the app from a manifest, the app trades the code once, and installs it", async (t) => {
  const hooks = await receiver(t);
  const { gh } = await startCheckedGitHub(t, { registerApp: false });
  gh.createUser("maya");
  gh.createUser("wes");
  gh.createOrg("acme", { admins: ["maya"], members: ["wes"] });
  assert.throws(() => gh.appId, /no GitHub App is registered yet/);

  // A member who is not an owner is refused on the confirmation page; nothing is registered.
  const byMember = await createAppFromManifest(gh.webUrl, manifest(hooks.url), { org: "acme", login: "wes", state: "s1" });
  assert.equal(byMember.status, 200);
  assert.match(await byMember.text(), /@wes may not register GitHub Apps for acme/);
  assert.equal(gh.world.registeredApp, null);
  const unknownOrg = await submitForm({ action: `${gh.webUrl}/organizations/nope/settings/apps/new`, fields: { manifest: JSON.stringify(manifest(hooks.url)) } });
  assert.equal(unknownOrg.status, 404, "an unknown organization has no such page");
  const invalid = await submitForm({ action: `${gh.webUrl}/settings/apps/new`, fields: { manifest: "{" } });
  assert.equal(invalid.status, 422);
  const elsewhere = await submitForm({ action: `${gh.webUrl}/settings/apps/new`, fields: { manifest: JSON.stringify(manifest("http://192.0.2.1/hooks")) } });
  assert.equal(elsewhere.status, 422, "a hook URL off loopback is refused: the offline GitHub calls nothing else");

  // The owner creates it: back to redirect_url with a code and the state as sent.
  const created = await createAppFromManifest(gh.webUrl, manifest(hooks.url), { org: "acme", login: "maya", state: "s2" });
  assert.equal(created.status, 302);
  const back = new URL(created.headers.get("location") ?? "");
  assert.equal(`${back.origin}${back.pathname}`, `${app}/setup/callback`);
  assert.equal(back.searchParams.get("state"), "s2");
  const code = back.searchParams.get("code") ?? "";
  assert.match(code, /^[0-9a-f]{40}$/);
  const again = await submitForm({ action: `${gh.webUrl}/settings/apps/new`, fields: { manifest: JSON.stringify(manifest(hooks.url)) } });
  assert.equal(again.status, 422, "the offline GitHub holds one app");

  // The code, once, gives the app's credentials, as GitHub's schema describes them.
  assert.equal(await refusedStatus(convert(gh, "0".repeat(40))), 404);
  const conversion = await convert(gh, code);
  assert.equal(conversion.status, 201);
  const c = conversion.data;
  assert.equal(c.slug, "bosun-test");
  assert.equal(c.name, "Bosun Test");
  assert.equal(c.owner && "login" in c.owner ? c.owner.login : null, "acme");
  assert.equal(c.html_url, `${gh.webUrl}/apps/bosun-test`);
  assert.deepEqual(c.permissions, { metadata: "read", contents: "write", issues: "write", members: "read" });
  assert.deepEqual(c.events, ["issues", "issue_comment"]);
  assert.match(c.pem, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.ok(c.webhook_secret && c.client_id && c.client_secret);
  assert.equal(await refusedStatus(convert(gh, code)), 404, "a code works once");
  assert.equal((await octokitWith(gh.url, appJwt(c.id, c.pem)).request("GET /app")).data?.slug, "bosun-test", "the key signs the app's JWT");

  // Signing in goes back only to a registered callback URL (or below it).
  const authorize = (redirect: string) => fetch(`${gh.webUrl}/login/oauth/authorize?${new URLSearchParams({ client_id: c.client_id, redirect_uri: redirect }).toString()}`);
  assert.equal((await authorize(`${app}/login/callback`)).status, 200);
  assert.equal((await authorize(`${app}/login/callback/deeper`)).status, 200);
  assert.equal((await authorize(`${app}/elsewhere`)).status, 400);
  assert.equal((await authorize("http://127.0.0.1:10/login/callback")).status, 400);

  // Installing from the app's page ends at its setup URL with the installation.
  const installPage = `${c.html_url}/installations/new`;
  const page = await fetch(installPage);
  assert.equal(page.status, 200);
  const form = formOf(await page.text(), installPage);
  assert.equal(form.fields["account"], "acme");
  assert.match(await (await submitForm(form, { login: "wes" })).text(), /@wes may not install apps on acme/);
  const installed = await submitForm(form, { login: "maya" });
  assert.equal(installed.status, 302);
  const setup = new URL(installed.headers.get("location") ?? "");
  assert.equal(`${setup.origin}${setup.pathname}`, `${app}/runs`);
  assert.equal(setup.searchParams.get("setup_action"), "install");
  const installations = (await octokitWith(gh.url, appJwt(c.id, c.pem)).request("GET /app/installations")).data;
  assert.deepEqual(installations.map((i) => [i.id, i.account && "login" in i.account ? i.account.login : null]), [[Number(setup.searchParams.get("installation_id")), "acme"]]);
  assert.deepEqual(installations[0]?.events, ["issues", "issue_comment"]);

  // Webhooks go to the manifest's hook URL, signed with the secret the conversion gave.
  await gh.createRepo("acme/alpha", { files: { "README.md": "alpha\n" } });
  await gh.as("maya").rest.issues.create({ owner: "acme", repo: "alpha", title: "Hello" });
  await gh.hooks.settled();
  assert.deepEqual(hooks.received.map((r) => r.event), ["issues"]);
  const [delivery] = hooks.received;
  assert.ok(delivery && await verify(c.webhook_secret, delivery.body, delivery.signature), "signed with the new app's webhook secret");
});

test("a personal account registers the app; a code older than an hour is refused", async (t) => {
  const { gh } = await startCheckedGitHub(t, { registerApp: false });
  gh.createUser("maya");
  const nobody = await createAppFromManifest(gh.webUrl, manifest(`${app}/hooks`), { login: "nobody" });
  assert.match(await nobody.text(), /Incorrect username or password/);
  const created = await createAppFromManifest(gh.webUrl, manifest(`${app}/hooks`), { login: "maya", name: "My Bosun" });
  assert.equal(created.status, 302);
  const back = new URL(created.headers.get("location") ?? "");
  assert.equal(back.searchParams.has("state"), false, "no state sent, none returned");
  assert.equal(gh.world.app.owner, "maya");
  assert.equal(gh.world.app.slug, "my-bosun");
  gh.advanceClock(60 * 60 * 1000 + 1000);
  assert.equal(await refusedStatus(convert(gh, back.searchParams.get("code") ?? "")), 404, "GitHub's code lasts an hour");
});
