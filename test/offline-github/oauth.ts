// GitHub's OAuth web application flow for the app ("Generating a user access token for a GitHub
// App"): the authorize page where a person signs in and authorizes the app, and the token endpoint
// that trades the page's code, or a refresh token, for a user access token (`ghu_`). These are
// github.com pages, not REST operations, so the server hands them here before its route table.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { mintUserToken, refreshTokenLifetimeSeconds, userTokenLifetimeSeconds } from "./auth.ts";
import { readBody } from "./http.ts";
import { esc, html, page } from "./pages.ts";
import type { Account } from "./model.ts";
import type { World } from "./world.ts";

export const oauthPathPrefix = "/login/oauth/";
const authorizePath = "/login/oauth/authorize";
const accessTokenPath = "/login/oauth/access_token";

/** GitHub's lifetime for the code the authorize page hands out. */
const codeLifetimeMs = 10 * 60 * 1000;

const tokenTroubleshooting = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors";
const authorizeTroubleshooting = "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors";

/** The token endpoint's errors, which GitHub sends with HTTP 200. */
const tokenErrors = {
  incorrect_client_credentials: ["The client_id and/or client_secret passed are incorrect.", `${tokenTroubleshooting}/#incorrect-client-credentials`],
  redirect_uri_mismatch: ["The redirect_uri MUST match the registered callback URL for this application.", `${authorizeTroubleshooting}/#redirect-uri-mismatch2`],
  bad_verification_code: ["The code passed is incorrect or expired.", `${tokenTroubleshooting}/#bad-verification-code`],
  bad_refresh_token: ["The refresh token passed is incorrect or expired.", tokenTroubleshooting],
  // Not in GitHub's docs for this endpoint; the name is OAuth's (RFC 6749, 5.2).
  unsupported_grant_type: ["The grant_type passed is not supported.", tokenTroubleshooting],
} as const;

type TokenAnswer = Record<string, string | number>;

/** Answers a request under /login/oauth/ and returns the status sent. */
export async function handleOAuth(w: World, req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> {
  const method = req.method ?? "GET";
  if (url.pathname === authorizePath && method === "GET") return authorize(w, res, url.searchParams, false);
  if (url.pathname === authorizePath && method === "POST") {
    const params = new URLSearchParams(url.searchParams);
    for (const [k, v] of new URLSearchParams((await readBody(req, 64 * 1024)).toString("utf8"))) params.set(k, v);
    return authorize(w, res, params, true);
  }
  if (url.pathname === accessTokenPath && method === "POST") {
    const params = await tokenParams(req, url);
    const answer = accessToken(w, params);
    const json = /application\/json/i.test(String(req.headers.accept ?? ""));
    res.writeHead(200, { "content-type": json ? "application/json; charset=utf-8" : "application/x-www-form-urlencoded; charset=utf-8" });
    res.end(json ? JSON.stringify(answer) : new URLSearchParams(Object.entries(answer).map(([k, v]): [string, string] => [k, String(v)])).toString());
    return 200;
  }
  return html(res, 404, notFoundPage());
}

// ---- the authorize page ---------------------------------------------------------------------------

interface AuthorizeForm { clientId: string; redirectUri: string; state: string | null; login: string }

function authorize(w: World, res: ServerResponse, params: URLSearchParams, submitted: boolean): number {
  // GitHub shows its 404 page for a client_id it does not know.
  const app = w.registeredApp;
  if (!app || params.get("client_id") !== app.clientId) return html(res, 404, notFoundPage());
  const redirectUri = params.get("redirect_uri") ?? "";
  const redirect = loopbackUrl(redirectUri);
  if (!redirect || !registeredCallback(app.callbackUrls, redirect)) return html(res, 400, redirectMismatchPage(redirectUri, app.callbackUrls));
  const form: AuthorizeForm = { clientId: app.clientId, redirectUri, state: params.get("state"), login: params.get("login") ?? "" };
  if (!submitted) return html(res, 200, authorizePage(w, form, null));
  if (params.get("authorize") === "0") {
    return redirectBack(res, redirect, {
      error: "access_denied",
      error_description: "The user has denied your application access.",
      error_uri: `${authorizeTroubleshooting}/#access-denied`,
    }, form.state);
  }
  const user = findUser(w, form.login.trim());
  // GitHub's sign-in page answers a failed sign-in with itself again, status 200.
  if (!user) return html(res, 200, authorizePage(w, form, "Incorrect username or password."));
  const code = randomBytes(10).toString("hex");
  w.oauthCodes.set(code, { code, login: user.login, clientId: form.clientId, redirectUri, expiresAt: new Date(w.now().getTime() + codeLifetimeMs) });
  return redirectBack(res, redirect, { code }, form.state);
}

/**
 * GitHub checks `redirect_uri` against the app's registered callback URLs. The offline GitHub has
 * none registered (and so no default when it is left out); it takes any http(s) URL on loopback.
 */
function loopbackUrl(raw: string): URL | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return null;
  if (!["127.0.0.1", "localhost", "[::1]"].includes(u.hostname)) return null;
  if (u.hash !== "" || u.username !== "" || u.password !== "") return null;
  return u;
}

/**
 * GitHub's rule for `redirect_uri` against a registered callback URL: the same scheme, host and
 * port, and the same path or one below it. An app registered without callback URLs (the offline
 * GitHub's default app) takes any loopback URL.
 */
function registeredCallback(callbackUrls: string[], redirect: URL): boolean {
  if (callbackUrls.length === 0) return true;
  return callbackUrls.some((raw) => {
    const c = URL.canParse(raw) ? new URL(raw) : null;
    if (!c || c.origin !== redirect.origin) return false;
    const base = c.pathname.replace(/\/+$/, "");
    return redirect.pathname === c.pathname || redirect.pathname.startsWith(`${base}/`);
  });
}

/** A person signs in with their login or email address. */
function findUser(w: World, loginOrEmail: string): Account | undefined {
  if (loginOrEmail === "") return undefined;
  const byLogin = w.findAccount(loginOrEmail);
  if (byLogin) return byLogin.type === "User" ? byLogin : undefined;
  const email = loginOrEmail.toLowerCase();
  for (const a of w.accounts.values()) if (a.type === "User" && a.email?.toLowerCase() === email) return a;
  return undefined;
}

/** 302 to the app's callback, its own query kept, with `extra` and the app's `state` added. */
function redirectBack(res: ServerResponse, to: URL, extra: Record<string, string>, state: string | null): number {
  const u = new URL(to);
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  if (state !== null) u.searchParams.set("state", state);
  res.writeHead(302, { location: u.toString() });
  res.end();
  return 302;
}

// ---- the token endpoint -------------------------------------------------------------------------------

/** Parameters from the query (GitHub's docs pass them there) and the body, form-encoded or JSON. */
async function tokenParams(req: IncomingMessage, url: URL): Promise<Map<string, string>> {
  const params = new Map(url.searchParams);
  const text = (await readBody(req, 64 * 1024)).toString("utf8");
  if (/^application\/json/i.test(String(req.headers["content-type"] ?? ""))) {
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // Unparseable: as if nothing was sent, so the client credentials are what is wrong.
    }
    if (body !== null && typeof body === "object" && !Array.isArray(body)) {
      for (const [k, v] of Object.entries(body)) if (typeof v === "string" || typeof v === "number") params.set(k, String(v));
    }
  } else {
    for (const [k, v] of new URLSearchParams(text)) params.set(k, v);
  }
  return params;
}

function accessToken(w: World, params: Map<string, string>): TokenAnswer {
  const app = w.registeredApp;
  if (!app || params.get("client_id") !== app.clientId || params.get("client_secret") !== app.clientSecret) return tokenError("incorrect_client_credentials");
  const grantType = params.get("grant_type") ?? "authorization_code";
  if (grantType === "refresh_token") {
    const old = w.refreshTokens.get(params.get("refresh_token") ?? "");
    if (!old || w.now() >= old.expiresAt) return tokenError("bad_refresh_token");
    // Once a refresh token is used, it and the user access token it came with stop working.
    w.refreshTokens.delete(old.token);
    const previous = w.tokens.get(old.accessToken);
    if (previous && !previous.revokedAt) previous.revokedAt = w.now();
    return grant(w, old.login);
  }
  if (grantType !== "authorization_code") return tokenError("unsupported_grant_type");
  const code = w.oauthCodes.get(params.get("code") ?? "");
  if (!code || code.clientId !== app.clientId || w.now() >= code.expiresAt) return tokenError("bad_verification_code");
  const redirectUri = params.get("redirect_uri");
  if (redirectUri && redirectUri !== code.redirectUri) return tokenError("redirect_uri_mismatch");
  w.oauthCodes.delete(code.code);
  return grant(w, code.login);
}

function grant(w: World, login: string): TokenAnswer {
  const access = mintUserToken(w, login, "ghu");
  const refresh = `ghr_${randomBytes(36).toString("base64url")}`;
  w.refreshTokens.set(refresh, { token: refresh, login, accessToken: access.token, expiresAt: new Date(w.now().getTime() + refreshTokenLifetimeSeconds * 1000) });
  return {
    access_token: access.token,
    expires_in: userTokenLifetimeSeconds,
    refresh_token: refresh,
    refresh_token_expires_in: refreshTokenLifetimeSeconds,
    token_type: "bearer",
    scope: "",
  };
}

function tokenError(error: keyof typeof tokenErrors): TokenAnswer {
  const [description, uri] = tokenErrors[error];
  return { error, error_description: description, error_uri: uri };
}

// ---- pages --------------------------------------------------------------------------------------------

function authorizePage(w: World, form: AuthorizeForm, error: string | null): string {
  const app = esc(w.app.name);
  const hidden = (name: string, value: string | null): string => (value === null ? "" : `<input type="hidden" name="${name}" value="${esc(value)}">\n`);
  // No password field: the offline GitHub is a test double, and signing in is naming the person.
  return page(`Authorize ${w.app.name}`, `<h1>Authorize ${app}</h1>
<p><strong>${app}</strong> by <strong>${esc(w.app.owner)}</strong> would like to act on your behalf, with no more access than both you and the app have.</p>
${error === null ? "" : `<p role="alert">${esc(error)}</p>\n`}<form method="post" action="${authorizePath}">
${hidden("client_id", form.clientId)}${hidden("redirect_uri", form.redirectUri)}${hidden("state", form.state)}<label for="login_field">Username or email address</label>
<input type="text" name="login" id="login_field" value="${esc(form.login)}" autocomplete="username" autofocus>
<button type="submit" name="authorize" value="1">Authorize ${app}</button>
<button type="submit" name="authorize" value="0">Cancel</button>
</form>
<p>Authorizing will redirect to <strong>${esc(form.redirectUri)}</strong></p>`);
}

function redirectMismatchPage(redirectUri: string, callbackUrls: string[]): string {
  const why = redirectUri === ""
    ? "The offline GitHub fills in no default callback URL for the app, so <code>redirect_uri</code> is required."
    : callbackUrls.length > 0 && loopbackUrl(redirectUri)
      ? `<code>${esc(redirectUri)}</code> is not at or below the app's registered callback URLs (${callbackUrls.map((c) => `<code>${esc(c)}</code>`).join(", ")}).`
      : `<code>${esc(redirectUri)}</code> is not an http(s) URL on loopback (127.0.0.1, localhost, [::1]), which is what the offline GitHub accepts as a callback URL.`;
  return page("Redirect URI mismatch", `<h1>Be careful!</h1>
<p>The redirect_uri is not associated with this application. (redirect_uri_mismatch)</p>
<p>${why}</p>`);
}

function notFoundPage(): string {
  return page("Page not found", "<h1>404</h1>\n<p>This is not the web page you are looking for.</p>");
}
