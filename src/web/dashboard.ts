// The dashboard and the runs API, served by Bosun's own HTTP server next to the webhook route.
// Hono gives routing, cookies, CSRF origin checks, security headers and server-sent events; the
// pages are server-rendered (views.ts). Who may see what is GitHub's answer for the signed-in
// person's own token: a repository they cannot read does not exist here (404).
import { randomBytes, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { csrf } from "hono/csrf";
import { secureHeaders } from "hono/secure-headers";
import { streamSSE } from "hono/streaming";
import type { Logger } from "pino";
import type { Pool } from "pg";
import type { Probot } from "probot";
import { describeEvent } from "../audit/describe-event.ts";
import { Redactor } from "../audit/redactor.ts";
import { summarizeStoredRun, type RunSummary } from "../audit/summary.ts";
import { summaryWithoutPolicyInternals, withoutPolicyInternals } from "../audit/policy-internals.ts";
import { countEvents, lastEventOf, transcriptJsonl, transcriptPage, transcriptPageSize, type TranscriptEvent } from "../audit/transcript.ts";
import type { Env } from "../config/env.ts";
import { loadOrgPolicy } from "../config/load-org-policy.ts";
import { repoConfigPath } from "../config/repo-config.ts";
import { GitHubOctokit } from "../github/octokit.ts";
import { readRawFile } from "../github/read-file.ts";
import type { PolicyDescription } from "../policy/describe-policy.ts";
import { operatorSettings } from "../policy/effective-policy.ts";
import { policyForRepository } from "../policy/policy-for-repository.ts";
import type { CommandStore } from "../runs/command-store.ts";
import { isTerminal, runStates, type Run, type RunState } from "../runs/run.ts";
import type { RunStore } from "../runs/store.ts";
import { authorizeUrl, exchangeCode, SignInExpired, SignInFailed, Viewer, type OAuthSettings, type RepoAccess } from "./github-user.ts";
import { safeNext } from "./safe-next.ts";
import { SessionStore, sameToken, type Session } from "./sessions.ts";
import { ages, layout, notFoundPage, policyPage, runPage, runsPage, signInPage, type LogLine, type Page, type RunsFilter } from "./views.ts";

export interface DashboardDeps {
  pool: Pool;
  store: RunStore;
  commands: CommandStore;
  env: Env;
  log: Logger;
  /** The Probot app, once loaded: the org-admin policy view reads settings with installation tokens. */
  app: () => Probot | null;
  /** Seals users' GitHub tokens in Postgres (BOSUN_SESSION_SECRET, else derived from the app's key). */
  sessionSecret: string;
  /** Where people reach this Bosun: the OAuth callback and whether cookies are Secure. */
  publicUrl: () => string;
}

/** Paths the dashboard answers; everything else goes on to Probot (webhooks) and the operations routes. */
const ownedPaths = /^\/($|runs(\/|$)|login(\/|$)|logout$|policy$|static\/|api\/runs(\/|$))/;

const sessionCookie = "bosun_session";
const oauthCookie = "bosun_oauth";
/** The longest a sign-in lasts; GitHub's user tokens for Apps last 8 hours too. */
const sessionMs = 8 * 60 * 60 * 1000;
const staticDir = new URL("./static/", import.meta.url);
const staticTypes: Record<string, string> = { "dashboard.css": "text/css; charset=utf-8", "dashboard.js": "text/javascript; charset=utf-8" };
const notices: Record<string, string> = {
  cancel: "Cancel requested. Bosun stops the run and says so on the issue.",
  retry: "Retry requested. Bosun starts a new run on the issue and links it there.",
};

interface VisibleRun { run: Run; access: RepoAccess; member: boolean }

type Env2 = { Variables: { session: Session | null; viewer: Viewer | null } };

export interface Dashboard {
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
  /** Ends the live streams, so the HTTP server can close: browsers reconnect to another replica. */
  close(): void;
}

export function dashboard(deps: DashboardDeps): Dashboard {
  const closing = new AbortController();
  const app = createDashboard(deps, closing.signal);
  const listener = getRequestListener(app.fetch, { overrideGlobalObjects: false });
  return {
    handler: async (req, res) => {
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (!ownedPaths.test(path)) return false;
      await listener(req, res);
      return true;
    },
    close: () => closing.abort(),
  };
}

export function createDashboard(deps: DashboardDeps, closing: AbortSignal = new AbortController().signal): Hono<Env2> {
  const { env, store, pool, log } = deps;
  const sessions = new SessionStore(pool, deps.sessionSecret);
  const oauth: OAuthSettings | null = env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET
    ? { webUrl: env.GITHUB_URL, apiUrl: env.GITHUB_API_URL, clientId: env.GITHUB_CLIENT_ID, clientSecret: env.GITHUB_CLIENT_SECRET }
    : null;
  const secure = (): boolean => deps.publicUrl().startsWith("https:");
  const callbackUrl = (): string => new URL("/login/callback", deps.publicUrl()).toString();
  const app = new Hono<Env2>();

  app.use("*", secureHeaders({
    contentSecurityPolicy: { defaultSrc: ["'self'"], scriptSrc: ["'self'"], styleSrc: ["'self'"], imgSrc: ["'self'", "data:"], connectSrc: ["'self'"], formAction: ["'self'"], frameAncestors: ["'none'"], baseUri: ["'none'"] },
    strictTransportSecurity: false,
  }));
  // Forms only from our own pages (Origin / Sec-Fetch-Site), and each carries the session's token.
  app.use("*", csrf());
  app.use("*", async (c, next) => {
    c.set("session", null);
    c.set("viewer", null);
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
    if (bearer && c.req.path.startsWith("/api/")) {
      // Scripts (an auditor's export) use their own GitHub token; GitHub says who it is.
      try {
        const who = await Viewer.identify({ apiUrl: env.GITHUB_API_URL, token: bearer });
        c.set("viewer", new Viewer({ apiUrl: env.GITHUB_API_URL, token: bearer, login: who.login }));
      } catch (e) {
        if (!(e instanceof SignInExpired)) throw e;
        return c.json({ message: "GitHub does not accept this token" }, 401);
      }
      return next();
    }
    const session = await sessions.get(getCookie(c as Context, sessionCookie));
    if (session) {
      c.set("session", session);
      c.set("viewer", new Viewer({ apiUrl: env.GITHUB_API_URL, token: session.token, login: session.login }));
    }
    return next();
  });

  app.onError(async (e, c) => {
    if (e instanceof SignInExpired) {
      await sessions.end(getCookie(c, sessionCookie));
      deleteCookie(c, sessionCookie, { path: "/" });
      if (c.req.path.startsWith("/api/")) return c.json({ message: "your GitHub sign-in expired; sign in again" }, 401);
      return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303);
    }
    log.error({ err: e, path: c.req.path }, "the dashboard failed to answer");
    const message = "Bosun could not answer: it could not reach GitHub or its database. Try again in a moment; the operator's log has the details.";
    if (c.req.path.startsWith("/api/")) return c.json({ message }, 502);
    return c.html(layout({ title: "Error", viewer: null, body: signInPage({ configured: oauth !== null, error: message, next: "/runs" }) }), 502);
  });

  const page = async (c: Context<Env2>, p: Omit<Page, "viewer">, status: 200 | 401 | 403 | 404 = 200): Promise<Response> => {
    const session = c.get("session");
    const viewer = c.get("viewer");
    const orgAdmin = session && viewer ? await anyOrgAdmin(viewer) : false;
    return c.html(layout({ ...p, viewer: session ? { login: session.login, csrfToken: session.csrfToken, orgAdmin } : null }), status);
  };
  const signIn = (c: Context<Env2>, error?: string): Promise<Response> =>
    page(c, { title: "Sign in", body: signInPage({ configured: oauth !== null, error, next: c.req.path + (new URL(c.req.url).search) }) }, 401);
  const notFound = (c: Context<Env2>): Promise<Response> | Response =>
    c.req.path.startsWith("/api/") ? c.json({ message: "Not Found" }, 404) : page(c, { title: "Not found", body: notFoundPage() }, 404);

  /**
   * Where the app's installation has its repositories now, by id, asked once a minute at most per
   * installation (a metadata-read token for the one request, then revoked): a renamed or
   * transferred repository whose old name another repository took is found under its new name.
   */
  const installationNames = new Map<number, { until: number; names: Promise<Map<number, { owner: string; repo: string }>> }>();
  const currentName = async (installationId: number, repoId: number): Promise<{ owner: string; repo: string } | null> => {
    const probot = deps.app();
    if (!probot) return null;
    let hit = installationNames.get(installationId);
    if (!hit || hit.until < Date.now()) {
      hit = { until: Date.now() + 60_000, names: installationRepositories(probot, env, log, installationId) };
      installationNames.set(installationId, hit);
      hit.names.catch(() => installationNames.delete(installationId));
    }
    return (await hit.names.catch(() => new Map<number, { owner: string; repo: string }>())).get(repoId) ?? null;
  };
  /** Repositories with runs that the viewer can read (by id, under their current names), with what they may do there. */
  const readableRepositories = async (viewer: Viewer): Promise<{ repoId: number; owner: string; repo: string; installationId: number; access: RepoAccess }[]> => {
    const all = await store.repositories();
    const direct = await viewer.readable(all);
    const seen = new Set(direct.map((r) => r.repoId));
    const moved = [];
    for (const r of all) {
      if (seen.has(r.repoId)) continue;
      const now = await currentName(r.installationId, r.repoId);
      if (now && `${now.owner}/${now.repo}`.toLowerCase() !== `${r.owner}/${r.repo}`.toLowerCase()) moved.push({ ...r, ...now });
    }
    return [...direct, ...(moved.length ? await viewer.readable(moved) : [])];
  };
  const anyOrgAdmin = async (viewer: Viewer): Promise<boolean> => {
    const owners = [...new Set((await readableRepositories(viewer)).map((r) => r.owner))];
    for (const o of owners) if (await viewer.isOrgAdmin(o)) return true;
    return false;
  };
  /** The run and the viewer's access to its repository; null for no such run or no access alike. */
  const visibleRun = async (viewer: Viewer, id: string): Promise<VisibleRun | null> => {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const run = await store.get(id);
    if (!run) return null;
    // By the repository's id: whoever owns the name now (after a rename or transfer) does not see
    // the runs of the repository that had it; its readers find it under its new name.
    let access = await viewer.access(run.owner, run.repo);
    if (!access || access.id !== run.repoId) {
      const now = await currentName(run.installationId, run.repoId);
      access = now ? await viewer.access(now.owner, now.repo) : null;
      if (!access || access.id !== run.repoId) return null;
    }
    // Membership of the org whose policy the transcript holds: the one the run was recorded under.
    return { run, access, member: await viewer.isOrgMember(run.owner) };
  };
  /** The run's events and summary as this viewer may see them: a non-member of the org without its policy's internals. */
  /** The run's summary; without the org policy's internals for someone outside the org. */
  const summaryFor = async (found: VisibleRun): Promise<RunSummary> => {
    const summary = await summaryOf(pool, found.run);
    return found.member ? summary : summaryWithoutPolicyInternals(summary, found.run.owner);
  };

  app.get("/", (c) => c.redirect("/runs"));

  app.get("/static/:file", async (c) => {
    const file = c.req.param("file");
    const type = staticTypes[file];
    if (!type) return notFound(c);
    const body = await readFile(new URL(file, staticDir));
    return c.body(body, 200, { "content-type": type, "cache-control": "public, max-age=300" });
  });

  // ---- signing in: GitHub's OAuth web flow for GitHub Apps ------------------------------------

  app.get("/login", (c) => {
    if (!oauth) return signIn(c);
    const next = safeNext(c.req.query("next"), deps.publicUrl());
    const state = randomBytes(18).toString("base64url");
    setCookie(c, oauthCookie, `${state}.${Buffer.from(next).toString("base64url")}`, { httpOnly: true, sameSite: "Lax", secure: secure(), path: "/login", maxAge: 600 });
    return c.redirect(authorizeUrl(oauth, callbackUrl(), state));
  });

  app.get("/login/callback", async (c) => {
    if (!oauth) return signIn(c);
    const [state, nextB64] = (getCookie(c, oauthCookie) ?? "").split(".");
    deleteCookie(c, oauthCookie, { path: "/login" });
    const code = c.req.query("code");
    if (!state || !sameToken(state, c.req.query("state")) || !code) {
      return signIn(c, c.req.query("error_description") ?? "That sign-in link is not valid any more (it was used, it expired, or it was not started here). Sign in again.");
    }
    let token: { token: string; expiresAt: Date | null };
    try {
      token = await exchangeCode(oauth, code, callbackUrl());
    } catch (e) {
      if (!(e instanceof SignInFailed)) throw e;
      return signIn(c, `GitHub did not sign you in: ${e.message}`);
    }
    const who = await Viewer.identify({ apiUrl: env.GITHUB_API_URL, token: token.token });
    const expiresAt = new Date(Math.min(Date.now() + sessionMs, token.expiresAt?.getTime() ?? Infinity));
    const id = await sessions.create({ login: who.login, userId: who.id, token: token.token, expiresAt });
    setCookie(c, sessionCookie, id, { httpOnly: true, sameSite: "Lax", secure: secure(), path: "/", expires: expiresAt });
    log.info({ login: who.login }, "signed in to the dashboard");
    return c.redirect(safeNext(nextB64 ? Buffer.from(nextB64, "base64url").toString() : "/runs", deps.publicUrl()), 303);
  });

  app.post("/logout", async (c) => {
    const session = c.get("session");
    const form = await c.req.parseBody();
    if (session && !sameToken(session.csrfToken, typeof form["csrf"] === "string" ? form["csrf"] : undefined)) return c.text("This form has expired; reload the page.", 403);
    await sessions.end(getCookie(c, sessionCookie));
    deleteCookie(c, sessionCookie, { path: "/" });
    return c.redirect("/runs", 303);
  });

  // ---- pages -------------------------------------------------------------------------------

  app.get("/runs", async (c) => {
    const viewer = c.get("viewer");
    if (!viewer || !c.get("session")) return signIn(c);
    const filter = readFilter(c);
    const repos = await readableRepositories(viewer);
    const names = [...new Set(repos.map((r) => `${r.owner}/${r.repo}`))].sort((a, b) => a.localeCompare(b));
    const runs = await searchRuns(filter, repos, 200);
    return page(c, { title: "Runs", body: runsPage({ runs, filter, repositories: names, now: new Date() }) });
  });

  app.get("/runs/:id", async (c) => {
    const viewer = c.get("viewer");
    const session = c.get("session");
    if (!viewer || !session) return signIn(c);
    const found = await visibleRun(viewer, c.req.param("id"));
    if (!found) return notFound(c);
    const { run, access } = found;
    // One page of events (what a run printed can be long); the summary, diff and tests are read on their own.
    const after = Math.max(0, Math.floor(Number(c.req.query("after") ?? 0)) || 0);
    const summary = await summaryFor(found);
    const diffEvent = await lastEventOf(pool, run.id, "file_diff");
    const testEvent = await lastEventOf(pool, run.id, "test");
    const onIssue = await store.list({ owner: run.owner, repo: run.repo, issueNumber: run.issueNumber });
    const total = await countEvents(pool, run.id);
    // Read last, so the live stream (which follows on from the page's last event) starts as near the page's moment as it can.
    const events = await transcriptPage(pool, run.id, { after, limit: transcriptPageSize + 1 });
    const more = events.length > transcriptPageSize;
    if (more) events.pop();
    const notice = notices[c.req.query("notice") ?? ""];
    return page(c, {
      title: `${run.owner}/${run.repo}#${run.issueNumber}`,
      notice,
      body: runPage({
        run, summary, lines: events.map((e) => logLine(found.member ? e : withoutPolicyInternals(e, run.owner))), page: { after, total: Math.max(total, events.length), next: more ? events.at(-1)?.seq ?? null : null },
        diff: diffEvent ? { text: typeof diffEvent.payload["diff"] === "string" ? diffEvent.payload["diff"] : "", truncated: diffEvent.payload["truncated"] === true, files: (diffEvent.payload["files"] as { path: string; status: string }[] | undefined) ?? [] } : null,
        testOutput: typeof testEvent?.payload["output_tail"] === "string" ? testEvent.payload["output_tail"] : null,
        issueUrl: `${env.GITHUB_URL.replace(/\/$/, "")}/${run.owner}/${run.repo}/issues/${run.issueNumber}`,
        mayAct: access.write, latestOnIssue: onIssue.at(-1)?.id === run.id, csrfToken: session.csrfToken,
        reduced: Boolean(run.facts.transcriptReducedAt), now: new Date(),
      }),
    });
  });

  // A running run's events as they are recorded: everything after `after` (or Last-Event-ID), then
  // new ones as they come, read from Postgres every second so any replica serves any run.
  app.get("/runs/:id/live", async (c) => {
    const viewer = c.get("viewer");
    if (!viewer) return c.text("sign in first", 401);
    const found = await visibleRun(viewer, c.req.param("id"));
    if (!found) return notFound(c);
    // A Bosun that is stopping sends followers elsewhere: a fresh connection reaches another replica.
    if (closing.aborted) return c.text("Bosun is restarting; try again in a moment.", 503, { connection: "close", "retry-after": "2" });
    let after = Number(c.req.header("last-event-id") ?? c.req.query("after") ?? 0) || 0;
    const runId = found.run.id;
    return streamSSE(c, async (stream) => {
      let state: RunState | null = null;
      let lastPing = Date.now();
      while (!stream.aborted && !closing.aborted) {
        const fresh = await transcriptPage(pool, runId, { after });
        for (const row of fresh) {
          const e = found.member ? row : withoutPolicyInternals(row, found.run.owner);
          await stream.writeSSE({ event: "line", id: String(e.seq), data: JSON.stringify(logLine(e)) });
          after = e.seq;
        }
        const run = await store.get(runId);
        if (!run) break;
        if (run.state !== state) {
          state = run.state;
          await stream.writeSSE({ event: "state", data: JSON.stringify({ state: run.state, outcome: run.outcome }) });
        }
        if (isTerminal(run.state) && fresh.length === 0) {
          await stream.writeSSE({ event: "end", data: JSON.stringify({ state: run.state }) });
          break;
        }
        if (Date.now() - lastPing > 15_000) {
          // A comment line keeps proxies from closing a quiet stream.
          await stream.write(": still here\n\n");
          lastPing = Date.now();
        }
        if (fresh.length < transcriptPageSize) await stream.sleep(1000);
      }
    });
  });

  // Cancel and retry are `/bosun` commands from a button: the same durable queue, the same checks
  // (write access, the org's who_may_start) by the worker, and the answer on the issue.
  for (const verb of ["cancel", "retry"] as const) {
    app.post(`/runs/:id/${verb}`, async (c) => {
      const viewer = c.get("viewer");
      const session = c.get("session");
      if (!viewer || !session) return c.text("Sign in first.", 401);
      const form = await c.req.parseBody();
      if (!sameToken(session.csrfToken, typeof form["csrf"] === "string" ? form["csrf"] : undefined)) return c.text("This form has expired; reload the page and try again.", 403);
      const found = await visibleRun(viewer, c.req.param("id"));
      if (!found) return notFound(c);
      const { run, access } = found;
      if (!access.write) return page(c, { title: "Not allowed", body: notFoundPage() }, 403);
      await deps.commands.record({ id: `dashboard-${randomUUID()}`, event: "dashboard", action: verb }, {
        installationId: run.installationId, repoId: run.repoId, owner: run.owner, repo: run.repo, issueNumber: run.issueNumber,
        commentId: 0, author: session.login, authorType: "User", verb, args: "", via: "dashboard",
      });
      log.info({ run: run.id, login: session.login, verb }, "a dashboard button queued a command");
      return c.redirect(`/runs/${run.id}?notice=${verb}`, 303);
    });
  }

  app.get("/policy", async (c) => {
    const viewer = c.get("viewer");
    if (!viewer || !c.get("session")) return signIn(c);
    const probot = deps.app();
    const repos = await readableRepositories(viewer);
    const byOrg = new Map<string, number>();
    for (const r of repos) if (!byOrg.has(r.owner)) byOrg.set(r.owner, r.installationId);
    const orgs: { org: string; source: string; repositories: { name: string; description: PolicyDescription }[] }[] = [];
    for (const [org, installationId] of byOrg) {
      if (!(await viewer.isOrgAdmin(org)) || !probot) continue;
      orgs.push(await orgPolicyReport(probot, env, log, org, installationId));
    }
    if (!orgs.length) return notFound(c);
    return page(c, { title: "Policy", body: policyPage({ orgs }) });
  });

  // ---- API ---------------------------------------------------------------------------------

  app.get("/api/runs", async (c) => {
    const viewer = c.get("viewer");
    if (!viewer) return c.json({ message: "sign in, or send your GitHub token as a Bearer token" }, 401);
    const filter = readFilter(c);
    const runs = await searchRuns(filter, await readableRepositories(viewer), Math.min(Number(c.req.query("limit") ?? 100) || 100, 500));
    return c.json({ runs: runs.map(runJson) });
  });

  app.get("/api/runs/:id", async (c) => {
    const viewer = c.get("viewer");
    if (!viewer) return c.json({ message: "sign in, or send your GitHub token as a Bearer token" }, 401);
    const found = await visibleRun(viewer, c.req.param("id"));
    return found ? c.json(runJson(found.run)) : notFound(c);
  });

  app.get("/api/runs/:id/summary", async (c) => {
    const viewer = c.get("viewer");
    if (!viewer) return c.json({ message: "sign in, or send your GitHub token as a Bearer token" }, 401);
    const found = await visibleRun(viewer, c.req.param("id"));
    if (!found) return notFound(c);
    return c.json(await summaryFor(found));
  });

  app.get("/api/runs/:id/transcript.jsonl", async (c) => {
    const viewer = c.get("viewer");
    if (!viewer) return c.json({ message: "sign in, or send your GitHub token as a Bearer token" }, 401);
    const found = await visibleRun(viewer, c.req.param("id"));
    if (!found) return notFound(c);
    if (found.run.facts.transcriptReducedAt) {
      return c.json({ message: `This run's events were reduced to its summary on ${found.run.facts.transcriptReducedAt} (the org's retention policy); GET /api/runs/${found.run.id}/summary has what is kept.` }, 410);
    }
    // Streamed a page at a time, as the client reads it: a long transcript is never in memory whole.
    const encoder = new TextEncoder();
    const chunks = transcriptJsonl(pool, found.run.id, found.member ? undefined : (e) => withoutPolicyInternals(e, found.run.owner));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await chunks.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
      async cancel() {
        await chunks.return(undefined);
      },
    });
    return c.body(body, 200, { "content-type": "application/x-ndjson; charset=utf-8", "content-disposition": `attachment; filename="bosun-run-${found.run.id}.jsonl"` });
  });

  app.notFound((c) => notFound(c));

  async function searchRuns(f: RunsFilter, readable: { repoId: number; owner: string; repo: string }[], limit: number): Promise<Run[]> {
    const repoIds = (f.repository ? readable.filter((r) => `${r.owner}/${r.repo}`.toLowerCase() === f.repository.toLowerCase()) : readable).map((r) => r.repoId);
    if (!repoIds.length) return [];
    const seconds = ages[f.age] ?? null;
    return store.search({
      repoIds, limit,
      ...(f.state ? { state: f.state as RunState | "active" | "ended" } : {}),
      ...(f.requester ? { requester: f.requester.replace(/^@/, "") } : {}),
      ...(seconds ? { createdAfter: new Date(Date.now() - seconds * 1000) } : {}),
    });
  }

  return app;
}

function readFilter(c: Context<Env2>): RunsFilter {
  const q = (k: string): string => (c.req.query(k) ?? "").trim().slice(0, 200);
  const state = q("state");
  const age = q("age");
  return {
    repository: q("repository"),
    state: state === "active" || state === "ended" || (runStates as readonly string[]).includes(state) ? state : "",
    requester: q("requester"),
    age: age in ages ? age : "all",
  };
}

function logLine(e: TranscriptEvent): LogLine {
  const agent = e.payload["source"] === "agent";
  // An agent's event is labelled as the agent's, so a kind it claims (`command`, `error`) never reads as Bosun's.
  return { seq: e.seq, at: e.at.toISOString(), kind: e.kind, label: agent ? `agent ${e.kind}` : e.kind, text: describeEvent(e), agent };
}

/** The kept summary for a run whose events retention reduced; else computed from the events. */
async function summaryOf(pool: Pool, run: Run): Promise<RunSummary> {
  return run.facts.transcriptReducedAt && run.facts.retainedSummary ? run.facts.retainedSummary : summarizeStoredRun(pool, run);
}

function runJson(r: Run): Record<string, unknown> {
  return {
    id: r.id, repository: `${r.owner}/${r.repo}`, issue: r.issueNumber, mode: r.mode, state: r.state, outcome: r.outcome,
    requested_by: r.requestedBy, created_at: r.createdAt.toISOString(), state_changed_at: r.stateChangedAt.toISOString(),
    ended_at: isTerminal(r.state) ? r.stateChangedAt.toISOString() : null, attempts: r.attempt,
    pull_request: r.prNumber ? { number: r.prNumber, url: r.prUrl } : null, branch: r.branch,
  };
}

/**
 * The effective settings of every repository the app is installed on in an org, for its admins.
 * One read-only token over the installation's repositories reads the files, and is revoked.
 */
/** The installation's repositories by id, with their names now. */
async function installationRepositories(probot: Probot, env: Env, log: Logger, installationId: number): Promise<Map<number, { owner: string; repo: string }>> {
  const appOctokit = await probot.auth();
  const minted = await appOctokit.rest.apps.createInstallationAccessToken({ installation_id: installationId, permissions: { metadata: "read" } });
  const octokit = new (GitHubOctokit())({ auth: { token: minted.data.token }, baseUrl: env.GITHUB_API_URL, log: log.child({ name: "octokit", purpose: "repository-names" }) });
  try {
    const repos = await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
    return new Map(repos.map((r) => [r.id, { owner: r.owner.login, repo: r.name }]));
  } finally {
    await octokit.rest.apps.revokeInstallationAccessToken().catch(() => undefined);
  }
}

async function orgPolicyReport(probot: Probot, env: Env, log: Logger, org: string, installationId: number): Promise<{ org: string; source: string; repositories: { name: string; description: PolicyDescription }[] }> {
  const loaded = await loadOrgPolicy({ app: probot, apiUrl: env.GITHUB_API_URL, log, installationId, owner: org, transcript: null, redactor: new Redactor() });
  const appOctokit = await probot.auth();
  const minted = await appOctokit.rest.apps.createInstallationAccessToken({ installation_id: installationId, permissions: { contents: "read", metadata: "read" } });
  const octokit = new (GitHubOctokit())({ auth: { token: minted.data.token }, baseUrl: env.GITHUB_API_URL, log: log.child({ name: "octokit", purpose: "policy-report" }) });
  try {
    const repos = await octokit.paginate(octokit.rest.apps.listReposAccessibleToInstallation, { per_page: 100 });
    const operator = operatorSettings(env);
    const repositories = [];
    for (const r of repos.sort((a, b) => a.name.localeCompare(b.name))) {
      const repoText = loaded.ok ? await readRawFile(octokit, { owner: org, repo: r.name, path: repoConfigPath }).catch(() => null) : null;
      repositories.push({ name: r.name, description: policyForRepository({ org: loaded, repo: r.name, repoText, operator }) });
    }
    return { org, source: loaded.ok ? loaded.source : "not valid", repositories };
  } finally {
    await octokit.rest.apps.revokeInstallationAccessToken().catch(() => undefined);
  }
}
