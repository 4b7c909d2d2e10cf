// The OAuth web flow as a dashboard drives it: the browser opens the authorize page, the person
// signs in and authorizes the app and comes back with a code; the dashboard trades the code for a
// user access token and asks the REST API who they are and what they may see.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RequestError } from "@octokit/request-error";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { octokitWith } from "../helpers/app-jwt.ts";
import type { OfflineGitHub } from "./server.ts";

// Never fetched: the tests read the redirect instead of following it.
const callback = "http://127.0.0.1:9/auth/callback?from=dashboard";

async function world(t: Parameters<typeof startCheckedGitHub>[0]): Promise<OfflineGitHub> {
  const { gh } = await startCheckedGitHub(t);
  gh.createUser("maya", { name: "Maya Ode", email: "maya@example.test" });
  gh.createUser("wes");
  gh.createUser("olga");
  gh.createOrg("acme", { admins: ["maya"], members: ["wes"] });
  gh.createOrg("elsewhere", { admins: ["maya"] });
  await gh.createRepo("acme/alpha", { files: { "README.md": "alpha\n" } });
  await gh.createRepo("acme/beta", { files: { "README.md": "beta\n" } });
  await gh.createRepo("elsewhere/gamma", { files: { "README.md": "gamma\n" } });
  gh.addCollaborator("acme/alpha", "wes", "write");
  gh.addCollaborator("acme/beta", "olga", "read");
  gh.addCollaborator("elsewhere/gamma", "wes", "admin");
  // The app is on acme, not on elsewhere.
  gh.install("acme");
  return gh;
}

const authorizeUrl = (gh: OfflineGitHub, query: Record<string, string>): string => `${gh.webUrl}/login/oauth/authorize?${new URLSearchParams(query).toString()}`;

/** The form's hidden fields, as a browser would send them back. */
function hiddenFields(html: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of html.matchAll(/<input type="hidden" name="(\w+)" value="([^"]*)">/g)) {
    out[m[1] ?? ""] = (m[2] ?? "").replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)));
  }
  return out;
}

/** The browser's part: opens the page, types `login` and presses a button; answers GitHub's reply, not followed. */
async function submit(gh: OfflineGitHub, query: Record<string, string>, login: string, authorize = "1"): Promise<Response> {
  const page = await fetch(authorizeUrl(gh, query));
  assert.equal(page.status, 200);
  return fetch(`${gh.webUrl}/login/oauth/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ ...hiddenFields(await page.text()), login, authorize }),
  });
}

async function codeFor(gh: OfflineGitHub, login: string): Promise<string> {
  const res = await submit(gh, { client_id: gh.clientId, redirect_uri: callback, state: "st" }, login);
  assert.equal(res.status, 302);
  const code = new URL(res.headers.get("location") ?? "").searchParams.get("code");
  assert.ok(code);
  return code;
}

/** POST /login/oauth/access_token with a JSON body, answered as JSON. */
async function exchange(gh: OfflineGitHub, body: Record<string, string>): Promise<Record<string, unknown>> {
  const res = await fetch(`${gh.webUrl}/login/oauth/access_token`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, "GitHub answers the token endpoint's errors with 200 too");
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

async function userToken(gh: OfflineGitHub, login: string): Promise<string> {
  const answer = await exchange(gh, { client_id: gh.clientId, client_secret: gh.clientSecret, code: await codeFor(gh, login), redirect_uri: callback });
  assert.equal(typeof answer["access_token"], "string", JSON.stringify(answer));
  return answer["access_token"] as string;
}

async function status(p: Promise<{ status: number }>): Promise<number> {
  try {
    return (await p).status;
  } catch (e) {
    if (e instanceof RequestError) return e.status;
    throw e;
  }
}

test("the authorize page signs a person in and sends them back with a code and the state", async (t) => {
  const gh = await world(t);
  assert.equal(gh.webUrl, gh.url);
  const state = `"><script>alert(1)</script>`;
  const page = await fetch(authorizeUrl(gh, { client_id: gh.clientId, redirect_uri: callback, state, login: "maya" }));
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type") ?? "", /^text\/html/);
  const html = await page.text();
  assert.match(html, /<button type="submit"[^>]*>Authorize Bosun<\/button>/);
  assert.match(html, /<label for="login_field">Username or email address<\/label>/);
  assert.match(html, /name="login" id="login_field" value="maya"/, "the login hint fills the field in");
  assert.ok(!html.includes("<script>"), "everything from the query is escaped");
  assert.deepEqual(hiddenFields(html), { client_id: gh.clientId, redirect_uri: callback, state });

  const res = await submit(gh, { client_id: gh.clientId, redirect_uri: callback, state }, "maya");
  assert.equal(res.status, 302);
  const back = new URL(res.headers.get("location") ?? "");
  assert.equal(`${back.origin}${back.pathname}`, "http://127.0.0.1:9/auth/callback");
  assert.equal(back.searchParams.get("from"), "dashboard", "the callback's own query is kept");
  assert.match(back.searchParams.get("code") ?? "", /^[0-9a-f]{20}$/);
  assert.equal(back.searchParams.get("state"), state);

  const byEmail = await submit(gh, { client_id: gh.clientId, redirect_uri: callback }, "maya@example.test");
  assert.equal(byEmail.status, 302, "an email address signs in too");
  assert.equal(new URL(byEmail.headers.get("location") ?? "").searchParams.has("state"), false, "no state asked, none given");

  const unknown = await submit(gh, { client_id: gh.clientId, redirect_uri: callback, state: "st" }, "nobody");
  assert.equal(unknown.status, 200, "GitHub's sign-in page shows itself again");
  const again = await unknown.text();
  assert.match(again, /Incorrect username or password\./);
  assert.equal(hiddenFields(again)["state"], "st");

  const cancelled = await submit(gh, { client_id: gh.clientId, redirect_uri: callback, state: "st" }, "maya", "0");
  assert.equal(cancelled.status, 302);
  const denied = new URL(cancelled.headers.get("location") ?? "").searchParams;
  assert.equal(denied.get("error"), "access_denied");
  assert.equal(denied.get("state"), "st");
  assert.equal(denied.has("code"), false);
});

test("an unknown client and a redirect_uri off loopback are refused", async (t) => {
  const gh = await world(t);
  const unknownClient = await fetch(authorizeUrl(gh, { client_id: "Iv1.nope", redirect_uri: callback }));
  assert.equal(unknownClient.status, 404);
  assert.match(await unknownClient.text(), /not the web page you are looking for/);

  for (const redirectUri of ["https://evil.example/callback", "javascript:alert(1)", ""]) {
    const res = await fetch(authorizeUrl(gh, { client_id: gh.clientId, redirect_uri: redirectUri }));
    assert.equal(res.status, 400, redirectUri);
    assert.match(await res.text(), /redirect_uri_mismatch/);
  }
  for (const redirectUri of ["http://localhost:3000/cb", "https://[::1]:8443/cb"]) {
    assert.equal((await fetch(authorizeUrl(gh, { client_id: gh.clientId, redirect_uri: redirectUri }))).status, 200, redirectUri);
  }

  // A form sent back with another redirect_uri is checked again.
  const forged = await fetch(`${gh.webUrl}/login/oauth/authorize`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: gh.clientId, redirect_uri: "https://evil.example/callback", login: "maya", authorize: "1" }),
  });
  assert.equal(forged.status, 400);
  assert.equal(forged.headers.get("location"), null);
});

test("a code is traded once for a user access token, answered as JSON or form-encoded", async (t) => {
  const gh = await world(t);
  const code = await codeFor(gh, "maya");
  const creds = { client_id: gh.clientId, client_secret: gh.clientSecret };

  const wrongSecret = await exchange(gh, { ...creds, client_secret: "nope", code });
  assert.deepEqual(wrongSecret, {
    error: "incorrect_client_credentials",
    error_description: "The client_id and/or client_secret passed are incorrect.",
    error_uri: "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#incorrect-client-credentials",
  });
  const otherCallback = await exchange(gh, { ...creds, code, redirect_uri: "http://127.0.0.1:9/elsewhere" });
  assert.equal(otherCallback["error"], "redirect_uri_mismatch");

  const answer = await exchange(gh, { ...creds, code, redirect_uri: callback });
  assert.deepEqual(Object.keys(answer).sort(), ["access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope", "token_type"]);
  assert.match(String(answer["access_token"]), /^ghu_/);
  assert.match(String(answer["refresh_token"]), /^ghr_/);
  assert.equal(answer["expires_in"], 28800);
  assert.equal(answer["refresh_token_expires_in"], 15811200);
  assert.equal(answer["token_type"], "bearer");
  assert.equal(answer["scope"], "");
  assert.equal((await octokitWith(gh.url, String(answer["access_token"])).rest.users.getAuthenticated()).data.login, "maya");

  assert.deepEqual(await exchange(gh, { ...creds, code, redirect_uri: callback }), {
    error: "bad_verification_code",
    error_description: "The code passed is incorrect or expired.",
    error_uri: "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code",
  }, "a code works once");

  // Without `Accept: application/json`, GitHub answers form-encoded; the request may be too.
  const form = await fetch(`${gh.webUrl}/login/oauth/access_token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ ...creds, code: await codeFor(gh, "wes"), redirect_uri: callback }),
  });
  assert.equal(form.status, 200);
  assert.match(form.headers.get("content-type") ?? "", /^application\/x-www-form-urlencoded/);
  const fields = new URLSearchParams(await form.text());
  assert.match(fields.get("access_token") ?? "", /^ghu_/);
  assert.equal(fields.get("token_type"), "bearer");
  assert.equal(fields.get("expires_in"), "28800");
  const formError = await fetch(`${gh.webUrl}/login/oauth/access_token`, { method: "POST", body: new URLSearchParams({ ...creds, code: "0000" }) });
  assert.equal(new URLSearchParams(await formError.text()).get("error"), "bad_verification_code");

  const late = await codeFor(gh, "maya");
  gh.advanceClock(10 * 60 * 1000 + 1000);
  assert.equal((await exchange(gh, { ...creds, code: late }))["error"], "bad_verification_code", "a code lasts 10 minutes");
});

test("a user access token expires after 8 hours; its refresh token renews it once", async (t) => {
  const gh = await world(t);
  const creds = { client_id: gh.clientId, client_secret: gh.clientSecret };
  const first = await exchange(gh, { ...creds, code: await codeFor(gh, "maya"), redirect_uri: callback });
  const token = String(first["access_token"]);
  assert.equal(await status(octokitWith(gh.url, token).rest.users.getAuthenticated()), 200);
  gh.advanceClock(8 * 60 * 60 * 1000 - 60_000);
  assert.equal(await status(octokitWith(gh.url, token).rest.users.getAuthenticated()), 200, "still good a minute before");
  gh.advanceClock(60_000);
  assert.equal(await status(octokitWith(gh.url, token).rest.users.getAuthenticated()), 401);

  const renewed = await exchange(gh, { ...creds, grant_type: "refresh_token", refresh_token: String(first["refresh_token"]) });
  assert.match(String(renewed["access_token"]), /^ghu_/);
  assert.notEqual(renewed["refresh_token"], first["refresh_token"]);
  assert.equal(renewed["expires_in"], 28800);
  const fresh = octokitWith(gh.url, String(renewed["access_token"]));
  assert.equal((await fresh.rest.users.getAuthenticated()).data.login, "maya");

  const reused = await exchange(gh, { ...creds, grant_type: "refresh_token", refresh_token: String(first["refresh_token"]) });
  assert.equal(reused["error"], "bad_refresh_token", "a refresh token works once");
  assert.equal(reused["error_description"], "The refresh token passed is incorrect or expired.");
  assert.equal((await exchange(gh, { ...creds, client_secret: "nope", grant_type: "refresh_token", refresh_token: String(renewed["refresh_token"]) }))["error"], "incorrect_client_credentials");

  // Refreshing early retires the access token it came with.
  const third = await exchange(gh, { ...creds, grant_type: "refresh_token", refresh_token: String(renewed["refresh_token"]) });
  assert.equal(await status(fresh.rest.users.getAuthenticated()), 401);
  assert.equal(await status(octokitWith(gh.url, String(third["access_token"])).rest.users.getAuthenticated()), 200);
});

test("GET /user and the repositories a user access token sees: the user's and the app's both", async (t) => {
  const gh = await world(t);
  const maya = octokitWith(gh.url, await userToken(gh, "maya"));
  const me = (await maya.rest.users.getAuthenticated()).data;
  assert.equal(me.login, "maya");
  assert.equal(me.name, "Maya Ode");
  assert.equal(me.email, "maya@example.test");
  assert.equal(me.type, "User");
  const anonymous = await fetch(`${gh.url}/user`);
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { message: string }).message, "Requires authentication");

  const alpha = { owner: "acme", repo: "alpha" };
  assert.equal((await maya.rest.repos.get(alpha)).data.permissions?.admin, true);
  const wes = octokitWith(gh.url, await userToken(gh, "wes"));
  const seen = (await wes.rest.repos.get(alpha)).data.permissions;
  assert.equal(seen?.push, true, "a writer's own access");
  assert.equal(seen?.admin, false);
  assert.equal(await status(wes.rest.repos.get({ owner: "elsewhere", repo: "gamma" })), 404, "an admin there, but the app is not installed there");
  assert.equal(await status(gh.as("wes").rest.repos.get({ owner: "elsewhere", repo: "gamma" })), 200, "his personal token sees it");

  const olga = octokitWith(gh.url, await userToken(gh, "olga"));
  assert.equal(await status(olga.rest.repos.get(alpha)), 404, "no role on it");
  assert.equal((await olga.rest.repos.get({ owner: "acme", repo: "beta" })).data.permissions?.push, false, "a reader's own access");
});

test("GET /user/memberships/orgs/{org} tells an org admin from a member", async (t) => {
  const gh = await world(t);
  const membership = async (login: string, org: string) => (await octokitWith(gh.url, await userToken(gh, login)).rest.orgs.getMembershipForAuthenticatedUser({ org })).data;
  const admin = await membership("maya", "acme");
  assert.equal(admin.state, "active");
  assert.equal(admin.role, "admin");
  assert.equal(admin.organization.login, "acme");
  assert.equal(admin.user?.login, "maya");
  assert.equal(admin.url, `${gh.url}/orgs/acme/memberships/maya`);
  assert.equal(admin.organization_url, `${gh.url}/orgs/acme`);
  assert.equal((await membership("wes", "acme")).role, "member");

  const olga = octokitWith(gh.url, await userToken(gh, "olga"));
  assert.equal(await status(olga.rest.orgs.getMembershipForAuthenticatedUser({ org: "acme" })), 404, "not a member");
  assert.equal(await status(olga.rest.orgs.getMembershipForAuthenticatedUser({ org: "no-such-org" })), 404);
  const maya = octokitWith(gh.url, await userToken(gh, "maya"));
  assert.equal(await status(maya.rest.orgs.getMembershipForAuthenticatedUser({ org: "elsewhere" })), 404, "the app is not installed there");
  assert.equal((await gh.as("maya").rest.orgs.getMembershipForAuthenticatedUser({ org: "elsewhere" })).data.role, "admin", "her personal token sees it");
});
