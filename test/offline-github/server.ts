// The offline GitHub: a standalone HTTP server speaking GitHub's REST API, git's smart HTTP
// protocol, webhooks and the OAuth web flow, plus a small scripting API for tests to set the world
// up and act as people.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Octokit } from "@octokit/rest";
import { parse as parseYaml } from "yaml";
import type { Principal } from "./auth.ts";
import { appInstallationFor, checkRepoAccess, mintUserToken, resolvePrincipal, tokenHas, tokenSeesRepo } from "./auth.ts";
import type { FaultPlan } from "./http.ts";
import { Faults, HttpError, readBody, Router } from "./http.ts";
import type { BranchProtection, Installation, Permissions, Repo, RepoRole, ReviewComment, Token, WorkflowRun } from "./model.ts";
import { fullName, roleAtLeast } from "./model.ts";
import { handleOAuth, oauthPathPrefix } from "./oauth.ts";
import { handleAppRegistration, isAppRegistrationPath } from "./app-registration.ts";
import type { Ctx, Route } from "./routes/context.ts";
import { emit } from "./routes/context.ts";
import { appRoutes } from "./routes/apps.ts";
import { checkRoutes } from "./routes/checks.ts";
import { graphqlRoutes } from "./routes/graphql.ts";
import { issueRoutes } from "./routes/issues.ts";
import { pullPayload, pullRoutes, pullShas } from "./routes/pulls.ts";
import { repoRoutes } from "./routes/repos.ts";
import { reviewCommentRoutes } from "./routes/review-comments.ts";
import { userRoutes } from "./routes/users.ts";
import { renderPull, renderReview, simplePull } from "./render.ts";
import { WebhookSender } from "./webhooks.ts";
import { workflowsForPullRequest, workflowsForPush, type RefUpdate } from "./workflows.ts";
import { World } from "./world.ts";

export interface RecordedResponse {
  method: string;
  route: string;
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

export interface RequestLogEntry {
  at: Date;
  method: string;
  path: string;
  route: string | null;
  status: number;
  /** `actions`: a workflow run GitHub Actions would have started (method `WORKFLOW`), not a request. */
  principal: "anonymous" | "app" | "installation" | "user" | "invalid" | "actions";
  token: string | null;
  actor: string | null;
}

export interface StartOptions {
  port?: number;
  host?: string;
  /** Where webhooks go; can be set later with `setWebhookUrl`. */
  webhookUrl?: string | null;
  webhookSecret?: string;
  /** The GitHub App manifest whose permissions and events the registered app gets (default: app.yml). */
  manifestPath?: string;
  appId?: number;
  /**
   * false: start with no GitHub App, for the manifest flow (`/settings/apps/new`) to register one;
   * webhooks then go to its hook URL, signed with its secret. Default true: the app from the manifest.
   */
  registerApp?: boolean;
  /** Every REST response, for the fidelity check. */
  onResponse?: (r: RecordedResponse) => void;
  /** Every webhook payload before delivery, for the fidelity check. */
  onWebhook?: (event: string, payload: Record<string, unknown>) => void;
}

interface Manifest { default_permissions?: Permissions; default_events?: string[]; name?: string }

const routes: Route[] = [...appRoutes, ...repoRoutes, ...userRoutes, ...issueRoutes, ...pullRoutes, ...reviewCommentRoutes, ...checkRoutes, ...graphqlRoutes];

/** Every REST operation the emulator serves, as `METHOD /template`. */
export function servedOperations(): string[] {
  return routes.map((r) => `${r.method} ${r.path}`);
}

/** Every webhook `event.action` some route can send. */
export function sentWebhookEvents(): string[] {
  // Pushes send `pull_request.synchronize` from the git side, not from a REST route.
  return [...new Set([...routes.flatMap((r) => r.sends ?? []), "pull_request.synchronize"])].sort();
}

export class OfflineGitHub {
  readonly world: World;
  readonly hooks: WebhookSender;
  readonly faults = new Faults();
  readonly requests: RequestLogEntry[] = [];
  readonly #server: Server;
  readonly #router = new Router<Route>();
  readonly #dataDir: string;
  readonly #options: StartOptions;

  private constructor(world: World, dataDir: string, options: StartOptions) {
    this.world = world;
    this.#dataDir = dataDir;
    this.#options = options;
    this.hooks = new WebhookSender(options.webhookUrl ?? null, world.registeredApp?.webhookSecret ?? "");
    this.hooks.onPayload = options.onWebhook ?? null;
    for (const r of routes) this.#router.add(r);
    // Each workflow run GitHub would start shows in the request log, where its cause is.
    world.onWorkflowRun = (run) => this.requests.push({
      at: run.at, method: "WORKFLOW", path: `/repos/${run.repo}/actions/runs/${run.id}`, route: null, status: run.failed ? 422 : 201,
      principal: "actions", token: null, actor: run.actor,
    });
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ message: `offline GitHub failed: ${String(e)}` }));
      });
    });
  }

  static async start(options: StartOptions = {}): Promise<OfflineGitHub> {
    const manifestPath = options.manifestPath ?? new URL("../../app.yml", import.meta.url).pathname;
    const manifest = parseYaml(await readFile(manifestPath, "utf8")) as Manifest;
    const dataDir = await mkdtemp(join(tmpdir(), "offline-github-"));
    const world = new World(join(dataDir, "git"), options.registerApp === false ? null : {
      id: options.appId ?? 1,
      name: manifest.name,
      slug: "bosun",
      webhookSecret: options.webhookSecret ?? "offline-github-webhook-secret",
      permissions: manifest.default_permissions ?? {},
      events: manifest.default_events ?? [],
    });
    const gh = new OfflineGitHub(world, dataDir, options);
    await new Promise<void>((resolve) => gh.#server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
    const addr = gh.#server.address();
    if (!addr || typeof addr === "string") throw new Error("[offline-github] no address");
    world.apiUrl = `http://${options.host ?? "127.0.0.1"}:${addr.port}`;
    world.webUrl = world.apiUrl;
    return gh;
  }

  get url(): string {
    return this.world.apiUrl;
  }

  /** Where the browser goes for the OAuth web flow (`/login/oauth/authorize`); the API's URL here. */
  get webUrl(): string {
    return this.world.webUrl;
  }

  /** The registered app's id (throws while none is registered: see `registerApp`). */
  get appId(): number {
    return this.world.app.id;
  }

  get privateKey(): string {
    return this.world.app.privateKeyPem;
  }

  get webhookSecret(): string {
    return this.world.app.webhookSecret;
  }

  /** The app's OAuth client credentials, for the web flow's token exchange. */
  get clientId(): string {
    return this.world.app.clientId;
  }

  get clientSecret(): string {
    return this.world.app.clientSecret;
  }

  setWebhookUrl(url: string | null): void {
    this.hooks.url = url;
  }

  async close(): Promise<void> {
    await this.hooks.settled();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await rm(this.#dataDir, { recursive: true, force: true });
  }

  // ---- scripting: the world -------------------------------------------------------------

  createUser(login: string, o: { type?: "User" | "Bot"; name?: string; email?: string } = {}): void {
    this.world.addUser(login, o);
  }

  createOrg(login: string, members: { admins?: string[]; members?: string[] } = {}): void {
    const org = this.world.addOrg(login);
    for (const a of members.admins ?? []) org.members.set(a, "admin");
    for (const m of members.members ?? []) org.members.set(m, "member");
  }

  async createRepo(name: string, o: { files?: Record<string, string>; defaultBranch?: string; private?: boolean; description?: string; message?: string } = {}): Promise<Repo> {
    const [owner, repoName] = splitName(name);
    if (!this.world.findAccount(owner)) throw new Error(`[offline-github] no owner ${owner}`);
    if (this.world.repos.has(name.toLowerCase())) throw new Error(`[offline-github] ${name} exists already`);
    const now = this.world.now();
    const r: Repo = {
      id: this.world.nextId(), owner: this.world.account(owner).login, name: repoName, description: o.description ?? null,
      private: o.private ?? true, defaultBranch: o.defaultBranch ?? "main", createdAt: now, updatedAt: now, pushedAt: now,
      collaborators: new Map(), protection: new Map(), labels: new Map(), issues: new Map(), comments: new Map(),
      reviews: new Map(), reviewComments: new Map(), checkRuns: new Map(), lastPushers: new Map(), nextNumber: 1,
    };
    this.world.repos.set(name.toLowerCase(), r);
    // A new repository with a moved one's old name ends that name's redirect, as on GitHub.
    this.world.movedRepos.delete(name.toLowerCase());
    await this.world.git.create(r.owner, r.name, r.defaultBranch);
    if (o.files) await this.commit(name, { files: o.files, message: o.message ?? "Initial commit" });
    return r;
  }

  /**
   * Renames a repository or transfers it to another owner (`acme/old` → `acme/new`, or
   * `other/old`): it keeps its id, issues and git data, and its old name leads to it until
   * another repository takes the name.
   */
  async moveRepo(from: string, to: string): Promise<Repo> {
    const [toOwner, toName] = splitName(to);
    const r = this.world.repos.get(from.toLowerCase());
    if (!r) throw new Error(`[offline-github] no repository ${from}`);
    if (!this.world.findAccount(toOwner)) throw new Error(`[offline-github] no owner ${toOwner}`);
    if (this.world.repos.has(to.toLowerCase())) throw new Error(`[offline-github] ${to} exists already`);
    await mkdir(dirname(this.world.git.path(toOwner, toName)), { recursive: true });
    await rename(this.world.git.path(r.owner, r.name), this.world.git.path(this.world.account(toOwner).login, toName));
    this.world.repos.delete(from.toLowerCase());
    const oldName = fullName(r);
    r.owner = this.world.account(toOwner).login;
    r.name = toName;
    this.world.repos.set(to.toLowerCase(), r);
    for (const team of this.world.teams.values()) {
      const role = team.repos.get(oldName);
      if (role === undefined) continue;
      team.repos.delete(oldName);
      team.repos.set(fullName(r), role);
    }
    this.world.movedRepos.delete(to.toLowerCase());
    this.world.movedRepos.set(from.toLowerCase(), r.id);
    return r;
  }

  /**
   * Commits file changes (null deletes) to a branch; the branch starts from the default branch when
   * new. It counts as a push by the author (the owner unless told): workflow runs, the branch's last
   * pusher and stale-review dismissal follow as for a git push, but no webhooks are sent.
   */
  async commit(name: string, o: { branch?: string; files: Record<string, string | null>; message: string; author?: string }): Promise<string> {
    const r = this.repo(name);
    const author = this.world.findAccount(o.author ?? r.owner);
    const branch = o.branch ?? r.defaultBranch;
    const old = await this.world.git.resolve(r.owner, r.name, `refs/heads/${branch}`);
    const sha = await this.world.git.commit(r.owner, r.name, {
      branch,
      from: r.defaultBranch,
      files: o.files,
      message: o.message,
      author: { name: author?.name ?? author?.login ?? "Someone", email: author?.email ?? "someone@offline-github.test" },
      date: this.world.now(),
    });
    r.pushedAt = this.world.now();
    await this.#afterRefUpdates(r, [{ ref: `refs/heads/${branch}`, before: old, after: sha }], author?.login ?? r.owner, { webhooks: false });
    return sha;
  }

  addCollaborator(name: string, login: string, role: RepoRole): void {
    this.world.account(login);
    this.repo(name).collaborators.set(login, role);
  }

  createTeam(org: string, slug: string, o: { members?: string[]; repos?: Record<string, RepoRole>; name?: string } = {}): void {
    if (!this.world.orgs.has(org)) throw new Error(`[offline-github] no org ${org}`);
    this.world.teams.set(`${org}/${slug}`.toLowerCase(), {
      id: this.world.nextId(), org, slug, name: o.name ?? slug, description: null,
      members: new Set(o.members ?? []), repos: new Map(Object.entries(o.repos ?? {})),
    });
  }

  /**
   * Protects a branch. `requiredPullRequestReviews` takes `requiredApprovingReviewCount`,
   * `requireCodeOwnerReviews`, `dismissStaleReviews` and `requireLastPushApproval` (default false),
   * GitHub's `required_pull_request_reviews` fields.
   */
  protectBranch(name: string, branch: string, p: Partial<BranchProtection> = {}): void {
    this.repo(name).protection.set(branch, {
      requiredStatusChecks: p.requiredStatusChecks ?? null,
      requiredPullRequestReviews: p.requiredPullRequestReviews ? { requireLastPushApproval: false, ...p.requiredPullRequestReviews } : null,
      enforceAdmins: p.enforceAdmins ?? false,
      allowForcePushes: p.allowForcePushes ?? false,
      allowDeletions: p.allowDeletions ?? false,
    });
  }

  /** Installs the app on an account, for all its repositories or the named ones. Returns the installation id. */
  install(account: string, o: { repositories?: string[]; permissions?: Permissions; events?: string[] } = {}): number {
    const a = this.world.account(account);
    const inst: Installation = {
      id: this.world.nextId(), account: a.login,
      repositorySelection: o.repositories ? "selected" : "all",
      repositoryIds: new Set((o.repositories ?? []).map((n) => this.repo(`${a.login}/${n}`).id)),
      permissions: o.permissions ?? { ...this.world.app.permissions },
      events: o.events ?? [...this.world.app.events],
      createdAt: this.world.now(),
    };
    this.world.installations.set(inst.id, inst);
    return inst.id;
  }

  /** A personal access token for a user, to act as them over HTTP. */
  userToken(login: string): string {
    return mintUserToken(this.world, this.world.account(login).login).token;
  }

  /** An Octokit acting as the user through the emulator's REST API. */
  as(login: string): Octokit {
    return new Octokit({ auth: this.userToken(login), baseUrl: this.url, retry: { enabled: false }, log: silentLog });
  }

  /** The authenticated clone URL for a token (`x-access-token:<token>` as GitHub's docs show). */
  cloneUrl(name: string, token?: string): string {
    const u = new URL(`${this.url}/${name}.git`);
    if (token) { u.username = "x-access-token"; u.password = token; }
    return u.toString();
  }

  advanceClock(ms: number): void {
    this.world.clockOffsetMs += ms;
  }

  setFaults(plan: FaultPlan): void {
    this.faults.set(plan);
  }

  // ---- scripting: reading back what happened ----------------------------------------------

  repo(name: string): Repo {
    const [owner, repoName] = splitName(name);
    const r = this.world.findRepo(owner, repoName);
    if (!r) throw new Error(`[offline-github] no repository ${name}`);
    return r;
  }

  /** Installation tokens in the order they were minted, with the calls made with each. */
  installationTokens(): Token[] {
    return [...this.world.tokens.values()].filter((t) => t.kind === "installation");
  }

  tokenRepositories(t: Token): string[] | null {
    return t.repositoryIds === null ? null : t.repositoryIds.map((id) => {
      const r = this.world.repoById(id);
      return r ? fullName(r) : `#${id}`;
    });
  }

  async branchSha(name: string, branch: string): Promise<string | null> {
    const r = this.repo(name);
    return this.world.git.resolve(r.owner, r.name, `refs/heads/${branch}`);
  }

  async fileAt(name: string, ref: string, path: string): Promise<string | null> {
    const r = this.repo(name);
    const sha = await this.world.git.resolve(r.owner, r.name, ref);
    return sha ? this.world.git.readFile(r.owner, r.name, sha, path) : null;
  }

  /** The workflow runs GitHub would have started, oldest first; of one repository (owner/name) when given. */
  workflowRuns(repo?: string): WorkflowRun[] {
    return this.world.workflowRuns.filter((run) => repo === undefined || run.repo.toLowerCase() === repo.toLowerCase());
  }

  /** Who moved the branch last (a git push, `commit`, a merge), as `require_last_push_approval` sees it. */
  lastPusher(name: string, branch: string): string | null {
    return this.repo(name).lastPushers.get(branch) ?? null;
  }

  /** The review comments of a pull request, oldest first (replies carry `inReplyTo`). */
  reviewComments(name: string, pullNumber: number): ReviewComment[] {
    return [...this.repo(name).reviewComments.values()].filter((c) => c.pullNumber === pullNumber).sort((a, b) => a.id - b.id);
  }

  // ---- HTTP ------------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const gitPath = /^\/([^/]+)\/([^/]+?)\.git(\/.*)$/.exec(url.pathname);
    if (gitPath) return this.#handleGit(req, res, url, gitPath[1] ?? "", gitPath[2] ?? "", gitPath[3] ?? "");
    if (url.pathname.startsWith(oauthPathPrefix)) return this.#handleOAuth(req, res, url);
    if (isAppRegistrationPath(url.pathname)) return this.#handleAppRegistration(req, res, url);
    return this.#handleApi(req, res, url);
  }

  /** Registering the app from a manifest and installing it: github.com pages, outside the route table. */
  async #handleAppRegistration(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = new Date();
    const status = await handleAppRegistration(this.world, {
      onRegistered: () => {
        const app = this.world.app;
        this.hooks.secret = app.webhookSecret;
        this.hooks.url = this.#options.webhookUrl ?? app.hookUrl;
      },
      install: (account) => this.install(account),
    }, req, res, url);
    this.#log({ started, method: req.method ?? "GET", path: url.pathname, route: null, status, principal: { kind: "anonymous" } });
  }

  /** The OAuth web flow's pages: github.com's, not the API's, so outside the route table. */
  async #handleOAuth(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const started = new Date();
    const status = await handleOAuth(this.world, req, res, url);
    this.#log({ started, method: req.method ?? "GET", path: url.pathname, route: null, status, principal: { kind: "anonymous" } });
  }

  async #handleApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? "GET";
    const started = new Date();
    let routeTemplate: string | null = null;
    let principal: Principal | null = null;
    let status: number;
    let body: unknown;
    let raw: Buffer | undefined;
    const headers: Record<string, string> = {
      "x-github-request-id": `${Math.random().toString(16).slice(2, 10).toUpperCase()}:OFFLINE`,
      "x-github-api-version-selected": "2022-11-28",
      "x-github-media-type": "github.v3; format=json",
    };
    try {
      const latency = this.faults.plan.latencyMs;
      if (latency) await new Promise((r) => setTimeout(r, latency));
      // Every answer GitHub's API gives (refusals included) carries the caller's rate-limit headers;
      // bad credentials count against the unauthenticated limit. Injected 5xx answers stand for
      // failures in front of the API and carry none.
      let authError: unknown = null;
      try {
        principal = resolvePrincipal(this.world, req.headers.authorization);
      } catch (e) {
        authError = e;
      }
      const rateHeaders = this.#rateLimitHeaders(principal ?? { kind: "anonymous" });
      Object.assign(headers, rateHeaders);
      const match = this.#router.match(method, url.pathname);
      if (match === null) throw new HttpError(404, "Not Found");
      if (match === "method-not-allowed") throw new HttpError(404, "Not Found");
      routeTemplate = match.route.path;
      const fault = this.faults.pick(method, url.pathname);
      if (fault) {
        if (fault.status >= 500) for (const k of Object.keys(rateHeaders)) delete headers[k];
        throw fault;
      }
      if (authError !== null || principal === null) throw authError;
      const route = match.route;
      if (route.auth === "none") {
        // No credentials are asked for; any sent are not looked at.
      } else if (route.auth === "app" && principal.kind !== "app") {
        throw new HttpError(401, "A JSON web token could not be decoded");
      } else if (route.auth !== "app" && principal.kind === "app") {
        throw new HttpError(403, "This endpoint requires an installation access token, not a JWT.");
      }
      if (route.auth === "token" && principal.kind === "anonymous") throw new HttpError(401, "Requires authentication");
      let repo: Repo | undefined;
      if (route.auth === "repo") {
        repo = this.world.findRepo(match.params["owner"] ?? "", match.params["repo"] ?? "");
        const need = typeof route.need === "function" ? route.need(match.params, repo) : route.need;
        if (!need) throw new Error(`[offline-github] route ${route.path} has no need`);
        checkRepoAccess(this.world, principal, repo, need);
      }
      const rawText = method === "GET" || method === "HEAD" ? "" : (await readBody(req)).toString("utf8");
      let parsed: unknown = {};
      if (rawText.trim() !== "") {
        try {
          parsed = JSON.parse(rawText);
        } catch {
          throw new HttpError(400, "Problems parsing JSON");
        }
      }
      const ctx: Ctx = {
        w: this.world, hooks: this.hooks, principal, params: match.params, url,
        body: parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {},
        rawBody: parsed,
        accept: String(req.headers.accept ?? ""),
        repo: repo as Repo,
      };
      const reply = await route.handle(ctx);
      // Workflow runs the call's webhooks started are recorded before the caller hears back.
      await this.world.settled();
      status = reply.status;
      body = reply.body;
      raw = reply.raw;
      Object.assign(headers, reply.headers ?? {});
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      status = e.status;
      body = e.body();
      Object.assign(headers, e.headers);
    }
    if (raw === undefined && status !== 204 && status !== 304) headers["content-type"] ??= "application/json; charset=utf-8";
    res.writeHead(status, headers);
    if (raw !== undefined) res.end(raw);
    else if (status === 204 || status === 304) res.end();
    else res.end(JSON.stringify(body));
    this.#log({ started, method, path: url.pathname, route: routeTemplate, status, principal });
    if (routeTemplate && raw === undefined) this.#options.onResponse?.({ method, route: routeTemplate, status, body: status === 204 ? undefined : body, headers });
  }

  #rateUsed = new Map<string, { windowStart: number; used: number }>();

  #rateLimitHeaders(p: Principal): Record<string, string> {
    const key = p.kind === "installation" || p.kind === "user" ? p.token.token : p.kind;
    const limit = p.kind === "anonymous" ? 60 : 5000;
    const now = Date.now();
    let entry = this.#rateUsed.get(key);
    if (!entry || now - entry.windowStart >= 3_600_000) entry = { windowStart: now, used: 0 };
    entry.used++;
    this.#rateUsed.set(key, entry);
    return {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(Math.max(0, limit - entry.used)),
      "x-ratelimit-reset": String(Math.floor((entry.windowStart + 3_600_000) / 1000)),
      "x-ratelimit-used": String(entry.used),
      "x-ratelimit-resource": "core",
    };
  }

  #log(o: { started: Date; method: string; path: string; route: string | null; status: number; principal: Principal | null }): void {
    const p = o.principal;
    const token = p && (p.kind === "installation" || p.kind === "user") ? p.token : null;
    this.requests.push({
      at: o.started, method: o.method, path: o.path, route: o.route, status: o.status,
      principal: p ? p.kind : "invalid", token: token?.token ?? null,
      actor: p?.kind === "user" ? p.login : p?.kind === "installation" ? this.world.botLogin : null,
    });
    token?.calls.push({ at: o.started, method: o.method, path: o.path, status: o.status });
  }

  async #handleGit(req: IncomingMessage, res: ServerResponse, url: URL, owner: string, name: string, rest: string): Promise<void> {
    const started = new Date();
    const write = url.searchParams.get("service") === "git-receive-pack" || rest === "/git-receive-pack";
    const fail = (status: number, message: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...extra });
      res.end(`${message}\n`);
      this.#log({ started, method: req.method ?? "GET", path: url.pathname, route: null, status, principal: p });
    };
    let p: Principal | null = null;
    try {
      p = resolvePrincipal(this.world, req.headers.authorization);
    } catch {
      return fail(401, "Invalid username or token. Password authentication is not supported for Git operations.", { "www-authenticate": 'Basic realm="GitHub"' });
    }
    const r = this.world.findRepo(owner, name);
    if (p.kind === "anonymous" && (!r || r.private || write)) {
      return fail(401, "Authentication required", { "www-authenticate": 'Basic realm="GitHub"' });
    }
    if (!r) return fail(404, "Repository not found.");
    let actor = "anonymous";
    let workflows = false;
    if (p.kind === "installation") {
      if (!tokenSeesRepo(this.world, p, r) || !tokenHas(p.token.permissions, "contents", "read")) return fail(404, "Repository not found.");
      if (write && !tokenHas(p.token.permissions, "contents", "write")) return fail(403, `Permission to ${fullName(r)}.git denied to ${this.world.botLogin}.`);
      actor = this.world.botLogin;
      workflows = tokenHas(p.token.permissions, "workflows", "write");
    } else if (p.kind === "user") {
      const role = this.world.roleOf(r, p.login);
      // A user access token (`ghu_`) has no more than the app's installation grants on the repository.
      const app = p.token.userToServer ? appInstallationFor(this.world, r)?.permissions ?? {} : null;
      const appAllows = (resource: string, level: "read" | "write"): boolean => app === null || tokenHas(app, resource, level);
      if (role === "none" || !appAllows("contents", "read")) return fail(404, "Repository not found.");
      if (write && (!roleAtLeast(role, "write") || !appAllows("contents", "write"))) return fail(403, `Permission to ${fullName(r)}.git denied to ${p.login}.`);
      actor = p.login;
      workflows = appAllows("workflows", "write");
    } else if (p.kind === "app") {
      return fail(401, "Invalid username or token.", { "www-authenticate": 'Basic realm="GitHub"' });
    }
    const protectedBranches = [...r.protection.entries()]
      .filter(([, prot]) => prot.enforceAdmins || p.kind !== "user" || this.world.roleOf(r, p.login) !== "admin")
      .map(([b]) => b);
    const before = rest === "/git-receive-pack" ? await this.world.git.refs(r.owner, r.name) : null;
    await this.world.git.serveHttp(req, res, {
      pathInfo: `/${r.owner}/${r.name}.git${rest}`,
      query: url.search.replace(/^\?/, ""),
      remoteUser: actor,
      hookEnv: { OFFLINE_GITHUB_PROTECTED: protectedBranches.join(" "), OFFLINE_GITHUB_WORKFLOWS: workflows ? "write" : "none" },
      beforeEnd: before ? async () => {
        this.#log({ started, method: req.method ?? "GET", path: url.pathname, route: null, status: res.statusCode, principal: p });
        await this.#afterPush(r, before, actor);
      } : undefined,
    });
    if (!before) this.#log({ started, method: req.method ?? "GET", path: url.pathname, route: null, status: res.statusCode, principal: p });
  }

  /** After a git push: what moved, handled as GitHub would (see `#afterRefUpdates`). */
  async #afterPush(r: Repo, before: Map<string, string>, actor: string): Promise<void> {
    const after = await this.world.git.refs(r.owner, r.name);
    const updates: RefUpdate[] = [];
    for (const [ref, sha] of after) if (before.get(ref) !== sha) updates.push({ ref, before: before.get(ref) ?? null, after: sha });
    for (const [ref, sha] of before) if (!after.has(ref)) updates.push({ ref, before: sha, after: null });
    await this.#afterRefUpdates(r, updates, actor, { webhooks: true });
  }

  /**
   * After refs moved by `pusher`: note the time and each branch's last pusher, dismiss stale
   * approvals where the base branch's protection says so, tell the app about pull requests whose
   * head moved (`webhooks`), and record the workflow runs GitHub would start.
   */
  async #afterRefUpdates(r: Repo, updates: RefUpdate[], pusher: string, o: { webhooks: boolean }): Promise<void> {
    if (updates.length === 0) return;
    r.pushedAt = this.world.now();
    const sender = this.world.findAccount(pusher) ? pusher : this.world.botLogin;
    const ctx = { w: this.world, hooks: this.hooks };
    for (const u of updates) {
      if (!u.ref.startsWith("refs/heads/")) continue;
      const branch = u.ref.slice("refs/heads/".length);
      if (u.after === null) {
        r.lastPushers.delete(branch);
        continue;
      }
      r.lastPushers.set(branch, sender);
      for (const i of r.issues.values()) {
        if (!i.pull || i.state !== "open" || i.pull.head !== branch) continue;
        i.updatedAt = this.world.now();
        // "Dismiss stale pull request approvals when new commits are pushed": the approvals go, as
        // DISMISSED, and GitHub tells apps with a pull_request_review `dismissed` event whose sender
        // is the pusher (the timeline reads "<pusher> dismissed <reviewer>'s stale review via <sha>").
        // https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches#require-pull-request-reviews-before-merging
        if (r.protection.get(i.pull.base)?.requiredPullRequestReviews?.dismissStaleReviews) {
          const stale = [...r.reviews.values()].filter((rv) => rv.pullNumber === i.number && rv.state === "APPROVED" && rv.commitId !== u.after);
          for (const rv of stale) rv.state = "DISMISSED";
          if (o.webhooks && stale.length > 0) {
            const pr = simplePull(renderPull(this.world, r, i, await pullShas(this.world, r, i)));
            for (const rv of stale) emit(ctx, r, "pull_request_review", sender, { action: "dismissed", review: { ...renderReview(this.world, r, rv), state: "dismissed" }, pull_request: pr });
          }
        }
        if (o.webhooks) {
          emit(ctx, r, "pull_request", sender, {
            action: "synchronize", number: i.number, before: u.before ?? "0".repeat(40), after: u.after, pull_request: await pullPayload(this.world, r, i),
          });
        } else {
          // No webhook, but the pull request workflows GitHub would start for the new head.
          this.world.track(workflowsForPullRequest(this.world, r, i, "synchronize", sender));
        }
      }
    }
    await workflowsForPush(this.world, r, updates, sender);
    await this.world.settled();
  }
}

function splitName(name: string): [string, string] {
  const [owner, repo, extra] = name.split("/");
  if (!owner || !repo || extra !== undefined) throw new Error(`[offline-github] "${name}" is not owner/repo`);
  return [owner, repo];
}

const silentLog = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
