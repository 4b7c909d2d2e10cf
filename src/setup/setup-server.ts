// The first start without a GitHub App: a page on PORT/HOST that registers the app from app.yml
// with GitHub's manifest flow, then saves its credentials and hands them to the caller, which
// starts Bosun in the same process.
//
// The flow ("Registering a GitHub App from a manifest"): the page's form POSTs `manifest` (JSON) to
// GitHub's `settings/apps/new?state=…` (or an organization's); the person names the app and
// creates it; GitHub redirects to the manifest's `redirect_url` with `code` and `state`; within
// an hour Bosun trades the code with `POST /app-manifests/{code}/conversions` for the app's id,
// private key, webhook secret and OAuth client, which nobody else sees.
//
// Probot has a setup app of its own, but its package does not export it, it writes `.env` into
// the working directory, and its manifest points webhooks at `<url>/` while Bosun's path is
// /api/github/webhooks; hence this one.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Octokit } from "@octokit/rest";
import { RequestError } from "@octokit/request-error";
import type { Logger } from "pino";
import type { Env } from "../config/env.ts";
import type { AppCredentials } from "./credentials-file.ts";
import { credentialsFileProblem, credentialsSchema, writeCredentialsFile } from "./credentials-file.ts";
import { sameToken } from "../web/sessions.ts";
import { buildManifest, setupCallbackPath, webhookPath } from "./manifest.ts";
import { callbackPage, problemPage, setupPage } from "./setup-pages.ts";

/** GitHub's lifetime for the manifest flow's code; the state lives as long. */
const stateLifetimeMs = 60 * 60 * 1000;
/** Pending sign-ups kept at once; the oldest goes first (someone reloading the page forever costs nothing). */
const maxPendingStates = 100;
const stateCookie = "bosun_setup_state";

export class SetupRefused extends Error {}

export interface SetupServer {
  /** Where the setup page is served (the bound address, not the public one). */
  url: string;
  /** Resolves with the new app's credentials once they are saved and the person is sent on to install it. */
  registered: Promise<AppCredentials>;
  close(): Promise<void>;
}

/** Why setup cannot be done safely with this environment, in words, or null. */
export async function setupRefusal(env: Env): Promise<string | null> {
  if (!env.BOSUN_PUBLIC_URL) {
    return "set BOSUN_PUBLIC_URL to the address GitHub and people reach this Bosun at (https://bosun.example.com): the app's webhook and callback URLs are made from it";
  }
  const pub = new URL(env.BOSUN_PUBLIC_URL);
  if ((pub.pathname !== "/" && pub.pathname !== "") || pub.search || pub.hash || pub.username || pub.password) {
    return `BOSUN_PUBLIC_URL=${env.BOSUN_PUBLIC_URL} must be an origin alone (scheme, host, port): Bosun's pages and webhook path are at its root`;
  }
  if (!secureOrLoopback(pub)) {
    return `BOSUN_PUBLIC_URL=${env.BOSUN_PUBLIC_URL} is plain http on a host other than this one: GitHub would send the code that hands out the app's private key in the clear. Serve Bosun over https (a reverse proxy) and set an https BOSUN_PUBLIC_URL`;
  }
  if (!secureOrLoopback(new URL(env.GITHUB_API_URL))) {
    return `GITHUB_API_URL=${env.GITHUB_API_URL} is plain http on a host other than this one: the app's private key would come back in the clear`;
  }
  return credentialsFileProblem(env.BOSUN_CREDENTIALS_FILE);
}

function secureOrLoopback(u: URL): boolean {
  return u.protocol === "https:" || (u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname));
}

/** Where the manifest form goes: the person's own account, or GITHUB_ORG's. */
export function newAppUrl(env: Pick<Env, "GITHUB_URL" | "GITHUB_ORG">, state: string): string {
  const web = env.GITHUB_URL.replace(/\/+$/, "");
  const path = env.GITHUB_ORG ? `/organizations/${encodeURIComponent(env.GITHUB_ORG)}/settings/apps/new` : "/settings/apps/new";
  return `${web}${path}?state=${encodeURIComponent(state)}`;
}

export async function serveSetup(o: { env: Env; log: Logger; manifestPath?: string }): Promise<SetupServer> {
  const { env, log } = o;
  const refusal = await setupRefusal(env);
  if (refusal) throw new SetupRefused(`[bosun/setup] Bosun has no GitHub App and cannot register one safely: ${refusal}.`);
  const publicUrl = (env.BOSUN_PUBLIC_URL ?? "").replace(/\/+$/, "");
  const manifest = await buildManifest(publicUrl, o.manifestPath);
  const secure = publicUrl.startsWith("https:");
  const states = new Map<string, number>();
  // Only whoever can read Bosun's log (or set BOSUN_SETUP_TOKEN) may register the app: the page is
  // on the public address GitHub's webhooks need, and an app registered by a stranger would be theirs.
  const token = env.BOSUN_SETUP_TOKEN ?? randomBytes(18).toString("base64url");
  let done = false;
  // One callback at a time: two at once would register two apps and keep one.
  let finishing = false;
  let resolveRegistered: (c: AppCredentials) => void = () => {};
  const registered = new Promise<AppCredentials>((resolve) => (resolveRegistered = resolve));

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://setup.invalid");
    const method = req.method ?? "GET";
    if (url.pathname === webhookPath) {
      return send(res, 503, "application/json", JSON.stringify({ message: "Bosun is not set up yet: it has no GitHub App to check this delivery's signature with." }));
    }
    if (url.pathname === "/healthz" && method === "GET") return send(res, 200, "application/json", JSON.stringify({ status: "setting up" }));
    if (url.pathname === "/readyz" && method === "GET") return send(res, 503, "application/json", JSON.stringify({ status: "not ready", setup: `open ${publicUrl}/setup to register the GitHub App` }));
    if (method !== "GET" && method !== "HEAD") return send(res, 405, "text/plain; charset=utf-8", "Method not allowed\n");
    if (done) return html(res, 200, problemPage("Bosun is set up", "The GitHub App is registered and Bosun is starting. Reload in a moment.", null));
    if (url.pathname === setupCallbackPath) {
      // GitHub's redirect is a GET; a HEAD must not spend the state or the code.
      if (method !== "GET") return send(res, 405, "text/plain; charset=utf-8", "Method not allowed\n", { allow: "GET" });
      return callback(req, res, url);
    }
    if (url.pathname !== "/setup") return redirect(res, "/setup");
    const given = url.searchParams.get("token");
    if (!sameToken(token, given ?? undefined)) {
      log.warn({ token: given ? "wrong" : "none" }, "refused the setup page: it needs the link with the setup token from Bosun's log");
      return html(res, 403, problemPage("This setup page needs its link", `Open the link Bosun printed in its log when it started (${publicUrl}/setup?token=…), or the one with the BOSUN_SETUP_TOKEN you set. Only someone who can read the log may register Bosun's GitHub App.`, null));
    }
    const state = randomBytes(24).toString("base64url");
    for (const [s, expires] of states) if (expires <= Date.now() || states.size >= maxPendingStates) states.delete(s);
    states.set(state, Date.now() + stateLifetimeMs);
    res.setHeader("set-cookie", cookie(stateCookie, state, { maxAge: stateLifetimeMs / 1000, secure }));
    return html(res, 200, setupPage({ manifest, action: newAppUrl(env, state), org: env.GITHUB_ORG ?? null, githubUrl: env.GITHUB_URL, credentialsFile: env.BOSUN_CREDENTIALS_FILE }));
  };

  const callback = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const code = url.searchParams.get("code");
    const state = url.searchParams.get("state");
    const fromCookie = readCookie(req, stateCookie);
    const expires = state ? states.get(state) : undefined;
    // The state must be one this server handed out, not yet used or expired, and the one this
    // browser was given: a code from another browser's flow (or someone else's app) is refused.
    if (!code || !state || expires === undefined || expires <= Date.now() || !fromCookie || !sameToken(state, fromCookie)) {
      log.warn({ hasCode: Boolean(code), knownState: expires !== undefined, cookie: Boolean(fromCookie) }, "refused a setup callback whose state does not match a setup started in this browser");
      return html(res, 400, problemPage("This setup link is not valid", "It was used already, it expired, or the setup was not started from this browser. Nothing was registered with it.", "/setup"));
    }
    if (finishing) {
      return html(res, 409, problemPage("Another setup is finishing", "Bosun is saving the app another callback registered. Reload in a moment.", null));
    }
    finishing = true;
    states.delete(state);
    res.setHeader("set-cookie", cookie(stateCookie, "", { maxAge: 0, secure }));
    let credentials: AppCredentials;
    try {
      const converted = await convert(env, code);
      credentials = converted.credentials;
      if (env.GITHUB_ORG && converted.owner.toLowerCase() !== env.GITHUB_ORG.toLowerCase()) {
        throw new Error(`GitHub registered the app for ${converted.owner}, not for ${env.GITHUB_ORG} (GITHUB_ORG), so Bosun did not keep it`);
      }
    } catch (e) {
      finishing = false;
      log.error({ err: e instanceof RequestError ? { status: e.status, message: e.message } : e }, "GitHub did not hand over the new app's credentials");
      return html(res, 502, problemPage("GitHub did not hand over the app's credentials",
        `${e instanceof Error ? e.message : String(e)}. If GitHub shows the app under Developer settings → GitHub Apps, delete it there, then start again.`, "/setup"));
    }
    try {
      await writeCredentialsFile(env.BOSUN_CREDENTIALS_FILE, credentials);
    } catch (e) {
      finishing = false;
      log.error({ err: e, file: env.BOSUN_CREDENTIALS_FILE }, "could not save the new app's credentials");
      return html(res, 500, problemPage("Bosun could not save the app's credentials",
        `Writing ${env.BOSUN_CREDENTIALS_FILE} failed (${(e as NodeJS.ErrnoException).code ?? "error"}). The app is registered on GitHub but its key is lost: delete it under Developer settings → GitHub Apps, fix the file's folder, and start again.`, null));
    }
    done = true;
    const install = `${(credentials.APP_HTML_URL ?? "").replace(/\/+$/, "")}/installations/new`;
    log.info({ appId: credentials.APP_ID, file: env.BOSUN_CREDENTIALS_FILE }, "registered the GitHub App and saved its credentials; starting Bosun");
    res.once("finish", () => resolveRegistered(credentials));
    return html(res, 303, callbackPage(install), { location: install });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.error({ err: e }, "setup page failed");
      if (!res.headersSent) html(res, 500, problemPage("Setup failed", "Something broke; the log says what.", "/setup"));
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(env.PORT, env.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = env.HOST === "0.0.0.0" ? "127.0.0.1" : env.HOST;
  // The link with the token is printed once, here: whoever reads the log may register the app.
  log.info({ setup: `${publicUrl}/setup?token=${env.BOSUN_SETUP_TOKEN ? "<BOSUN_SETUP_TOKEN>" : token}`, manifest: { webhook: manifest.hook_attributes.url, callback: manifest.callback_urls, redirect: manifest.redirect_url }, owner: env.GITHUB_ORG ?? "the signed-in account" },
    "Bosun has no GitHub App yet: open the setup page to register one");
  return {
    url: `http://${host}:${port}`,
    registered,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** Trades the manifest flow's code for the app's credentials (unauthenticated, as GitHub documents), and says who owns the app. */
async function convert(env: Env, code: string): Promise<{ credentials: AppCredentials; owner: string }> {
  const octokit = new Octokit({ baseUrl: env.GITHUB_API_URL, userAgent: "bosun-setup", log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } });
  const { data } = await octokit.request("POST /app-manifests/{code}/conversions", { code });
  if (!data.webhook_secret) throw new Error("GitHub registered the app without a webhook secret, so Bosun could not tell GitHub's deliveries from forgeries");
  const r = credentialsSchema.required({ APP_HTML_URL: true }).safeParse({
    APP_ID: String(data.id),
    PRIVATE_KEY: data.pem,
    WEBHOOK_SECRET: data.webhook_secret,
    GITHUB_CLIENT_ID: data.client_id,
    GITHUB_CLIENT_SECRET: data.client_secret,
    APP_HTML_URL: data.html_url,
  });
  // The keys only, never the values: they are the app's secrets.
  if (!r.success) throw new Error(`GitHub's answer lacked what Bosun needs (${r.error.issues.map((i) => i.path.join(".")).join(", ")})`);
  const owner = data.owner && "login" in data.owner ? data.owner.login : (data.owner as { slug?: string } | null)?.slug ?? "";
  return { credentials: r.data, owner };
}

function cookie(name: string, value: string, o: { maxAge: number; secure: boolean }): string {
  // Lax: GitHub's redirect back is a top-level GET navigation, which carries Lax cookies.
  return `${name}=${value}; Path=/setup; Max-Age=${o.maxAge}; HttpOnly; SameSite=Lax${o.secure ? "; Secure" : ""}`;
}

function readCookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=") || null;
  }
  return null;
}

function send(res: ServerResponse, status: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers });
  res.end(body);
}

function html(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  send(res, status, "text/html; charset=utf-8", body, {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action *; frame-ancestors 'none'; base-uri 'none'",
    "referrer-policy": "no-referrer",
    ...headers,
  });
}

function redirect(res: ServerResponse, to: string): void {
  send(res, 302, "text/plain; charset=utf-8", `Found. Redirecting to ${to}\n`, { location: to });
}

