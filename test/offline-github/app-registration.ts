// GitHub's pages for registering a GitHub App from a manifest and installing it ("Registering a
// GitHub App from a manifest"): a form POSTs `manifest` (JSON) to `/settings/apps/new?state=…` or
// `/organizations/{org}/settings/apps/new?state=…`; GitHub shows a page where the person names the
// app and creates it; then it redirects to the manifest's `redirect_url` with a `code` (one use,
// an hour) and the `state`, which the app trades at `POST /app-manifests/{code}/conversions` (a
// REST route, routes/apps.ts). Installing is `<app html_url>/installations/new`, which ends at the
// app's `setup_url` with `installation_id` and `setup_action=install`.
//
// These are github.com pages, not REST operations, so the server hands them here before its route
// table. As on the OAuth pages, signing in is naming the person (no password). The offline GitHub
// holds one app at most; it is started without one (`registerApp: false`) for this flow.
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody } from "./http.ts";
import { esc, html, page } from "./pages.ts";
import type { Account, Permissions } from "./model.ts";
import type { World } from "./world.ts";

/** GitHub's lifetime for the manifest flow's code. */
export const manifestCodeLifetimeMs = 60 * 60 * 1000;

const newAppPath = /^\/(?:organizations\/([^/]+)\/)?settings\/apps\/new$/;
const installPath = /^\/apps\/([^/]+)\/installations\/new$/;

/** Whether a path is one of these pages. */
export function isAppRegistrationPath(pathname: string): boolean {
  return newAppPath.test(pathname) || installPath.test(pathname);
}

export interface RegistrationHooks {
  /** The app was registered: webhooks go to its hook URL, signed with its secret. */
  onRegistered(): void;
  /** Installs the app on an account, on all its repositories; returns the installation id. */
  install(account: string): number;
}

/** Answers a request for one of these pages and returns the status sent. */
export async function handleAppRegistration(w: World, hooks: RegistrationHooks, req: IncomingMessage, res: ServerResponse, url: URL): Promise<number> {
  const method = req.method ?? "GET";
  const form = method === "POST" ? new URLSearchParams((await readBody(req, 256 * 1024)).toString("utf8")) : new URLSearchParams();
  const newApp = newAppPath.exec(url.pathname);
  if (newApp && method === "POST") return registerFromManifest(w, hooks, res, newApp[1] ? decodeURIComponent(newApp[1]) : null, url.searchParams.get("state"), form);
  const install = installPath.exec(url.pathname);
  if (install && (method === "GET" || method === "POST")) return installApp(w, hooks, res, decodeURIComponent(install[1] ?? ""), method === "POST" ? form : null);
  return html(res, 404, notFoundPage());
}

// ---- registering from a manifest ----------------------------------------------------------------

interface Manifest {
  name?: string;
  url: string;
  description?: string;
  hook_attributes?: { url: string; active?: boolean };
  redirect_url?: string;
  callback_urls?: string[];
  setup_url?: string;
  default_permissions?: Permissions;
  default_events?: string[];
}

function registerFromManifest(w: World, hooks: RegistrationHooks, res: ServerResponse, org: string | null, state: string | null, form: URLSearchParams): number {
  // An organization GitHub does not know, or one the person cannot see: GitHub's 404 page.
  if (org !== null && !w.orgs.has(w.findAccount(org)?.login ?? "")) return html(res, 404, notFoundPage());
  const raw = form.get("manifest") ?? "";
  const parsed = parseManifest(raw);
  if (typeof parsed === "string") return html(res, 422, page("Invalid GitHub App configuration", `<h1>Invalid GitHub App configuration</h1>\n<p>${esc(parsed)}</p>`));
  const manifest = parsed;
  const existing = w.registeredApp;
  if (existing) {
    return html(res, 422, page("Cannot register another app", `<h1>Cannot register another app</h1>\n<p>The offline GitHub holds one GitHub App, and <strong>${esc(existing.slug)}</strong> is registered. Start it with <code>registerApp: false</code> to register one from a manifest.</p>`));
  }
  const name = (form.get("name") ?? manifest.name ?? "").trim();
  const login = (form.get("login") ?? "").trim();
  if (form.get("confirm") !== "1") return html(res, 200, confirmPage({ org, state, raw, name, login, manifest, error: null }));
  const user = w.findAccount(login);
  const problem = !user || user.type !== "User" ? "Incorrect username or password."
    : org !== null && w.orgs.get(w.account(org).login)?.members.get(user.login) !== "admin" ? `@${user.login} may not register GitHub Apps for ${org}: only its owners may.`
      : name === "" ? "Name can't be blank."
        : null;
  if (problem || !user) return html(res, 200, confirmPage({ org, state, raw, name, login, manifest, error: problem }));
  const app = w.registerApp({
    name,
    owner: org ?? user.login,
    permissions: { metadata: "read", ...manifest.default_permissions },
    events: manifest.default_events ?? [],
    description: manifest.description ?? null,
    externalUrl: manifest.url,
    hookUrl: manifest.hook_attributes?.url ?? null,
    callbackUrls: manifest.callback_urls ?? [],
    setupUrl: manifest.setup_url ?? null,
  });
  hooks.onRegistered();
  const code = randomBytes(20).toString("hex");
  w.manifestCodes.set(code, { code, appId: app.id, expiresAt: new Date(w.now().getTime() + manifestCodeLifetimeMs) });
  // Without a redirect_url GitHub shows the new app's settings; the offline GitHub has no such page.
  if (!manifest.redirect_url) return html(res, 201, page("App registered", `<h1>${esc(app.name)} is registered</h1>\n<p>The manifest has no <code>redirect_url</code>; the code is <code>${esc(code)}</code>.</p>`));
  const to = new URL(manifest.redirect_url);
  to.searchParams.set("code", code);
  if (state !== null) to.searchParams.set("state", state);
  res.writeHead(302, { location: to.toString() });
  res.end();
  return 302;
}

/**
 * The manifest, checked as GitHub checks it; the offline GitHub also keeps every URL it will call
 * or send people to on loopback. Returns the problem in words when it is not usable.
 */
function parseManifest(raw: string): Manifest | string {
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return "The manifest is not JSON.";
  }
  if (m === null || typeof m !== "object" || Array.isArray(m)) return "The manifest is not a JSON object.";
  const o = m as Record<string, unknown>;
  if (typeof o["url"] !== "string" || !URL.canParse(o["url"])) return "url is required: the app's homepage.";
  const hook = o["hook_attributes"];
  if (hook !== undefined && (typeof hook !== "object" || hook === null || typeof (hook as Record<string, unknown>)["url"] !== "string")) return "hook_attributes.url is required when hook_attributes is given.";
  const urls: [string, unknown][] = [["hook_attributes.url", (hook as Record<string, unknown> | undefined)?.["url"]], ["redirect_url", o["redirect_url"]], ["setup_url", o["setup_url"]]];
  const callbacks = o["callback_urls"];
  if (callbacks !== undefined && (!Array.isArray(callbacks) || callbacks.length > 10)) return "callback_urls must be a list of at most 10 URLs.";
  for (const [i, c] of ((callbacks ?? []) as unknown[]).entries()) urls.push([`callback_urls[${i}]`, c]);
  for (const [key, v] of urls) {
    if (v === undefined) continue;
    if (typeof v !== "string" || !loopback(v)) return `${key} must be an http(s) URL on loopback (127.0.0.1, localhost, [::1]): the offline GitHub reaches nothing else.`;
  }
  for (const [k, v] of Object.entries((o["default_permissions"] ?? {}) as Record<string, unknown>)) {
    if (v !== "read" && v !== "write" && v !== "admin") return `default_permissions.${k} must be read, write or admin.`;
  }
  const events = o["default_events"];
  if (events !== undefined && (!Array.isArray(events) || !events.every((e) => typeof e === "string"))) return "default_events must be a list of event names.";
  return o as unknown as Manifest;
}

function loopback(raw: string): boolean {
  if (!URL.canParse(raw)) return false;
  const u = new URL(raw);
  return (u.protocol === "http:" || u.protocol === "https:") && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
}

function confirmPage(o: { org: string | null; state: string | null; raw: string; name: string; login: string; manifest: Manifest; error: string | null }): string {
  const action = `${o.org ? `/organizations/${encodeURIComponent(o.org)}` : ""}/settings/apps/new${o.state !== null ? `?state=${encodeURIComponent(o.state)}` : ""}`;
  const owner = o.org ?? "your personal account";
  const permissions = Object.entries(o.manifest.default_permissions ?? {}).map(([k, v]) => `<li>${esc(k)}: ${esc(v)}</li>`).join("");
  return page("Create GitHub App", `<h1>Create GitHub App for ${esc(owner)}</h1>
${o.error === null ? "" : `<p role="alert">${esc(o.error)}</p>\n`}<form method="post" action="${esc(action)}">
<input type="hidden" name="manifest" value="${esc(o.raw)}">
<input type="hidden" name="confirm" value="1">
<label for="login_field">Signed in as (username)</label>
<input type="text" name="login" id="login_field" value="${esc(o.login)}" autocomplete="username">
<label for="app_name">GitHub App name</label>
<input type="text" name="name" id="app_name" value="${esc(o.name)}">
<p>Webhook URL: <code>${esc(o.manifest.hook_attributes?.url ?? "none")}</code></p>
<p>Permissions:</p>
<ul>${permissions}</ul>
<p>Events: ${esc((o.manifest.default_events ?? []).join(", ") || "none")}</p>
<button type="submit">Create GitHub App for ${esc(owner)}</button>
</form>`);
}

// ---- installing ------------------------------------------------------------------------------------

function installApp(w: World, hooks: RegistrationHooks, res: ServerResponse, slug: string, form: URLSearchParams | null): number {
  const app = w.registeredApp;
  if (!app || app.slug !== slug) return html(res, 404, notFoundPage());
  const login = (form?.get("login") ?? "").trim();
  const target = (form?.get("account") ?? app.owner).trim();
  if (!form) return html(res, 200, installPage(app.name, slug, login, target, null));
  const user = w.findAccount(login);
  const account = w.findAccount(target);
  const problem = !user || user.type !== "User" ? "Incorrect username or password."
    : !account ? `There is no account ${target}.`
      : !mayInstall(w, user, account) ? `@${user.login} may not install apps on ${account.login}: only its owners may.`
        : w.installationFor(account.login) ? `${app.name} is installed on ${account.login} already.`
          : null;
  if (problem || !account) return html(res, 200, installPage(app.name, slug, login, target, problem));
  const id = hooks.install(account.login);
  const to = app.setupUrl ? new URL(app.setupUrl) : new URL(`${w.webUrl}/settings/installations/${id}`);
  if (app.setupUrl) {
    to.searchParams.set("installation_id", String(id));
    to.searchParams.set("setup_action", "install");
  }
  res.writeHead(302, { location: to.toString() });
  res.end();
  return 302;
}

function mayInstall(w: World, user: Account, account: Account): boolean {
  if (account.type === "User") return account.login === user.login;
  return w.orgs.get(account.login)?.members.get(user.login) === "admin";
}

function installPage(name: string, slug: string, login: string, account: string, error: string | null): string {
  return page(`Install ${name}`, `<h1>Install ${esc(name)}</h1>
${error === null ? "" : `<p role="alert">${esc(error)}</p>\n`}<form method="post" action="/apps/${esc(encodeURIComponent(slug))}/installations/new">
<label for="login_field">Signed in as (username)</label>
<input type="text" name="login" id="login_field" value="${esc(login)}" autocomplete="username">
<label for="account_field">Install on (user or organization)</label>
<input type="text" name="account" id="account_field" value="${esc(account)}">
<p>All repositories.</p>
<button type="submit">Install</button>
</form>`);
}

// ---- pages --------------------------------------------------------------------------------------------

function notFoundPage(): string {
  return page("Page not found", "<h1>404</h1>\n<p>This is not the web page you are looking for.</p>");
}
