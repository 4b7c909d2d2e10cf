// Everything the offline GitHub knows, with the lookups the routes share.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import type { Account, App, Installation, Label, ManifestCode, OAuthCode, Org, RefreshToken, Repo, RepoRole, Team, Token, WorkflowRun } from "./model.ts";
import { fullName, repoRoleOrder, roleAtLeast } from "./model.ts";
import { GitStore } from "./git-store.ts";
import { nodeId, isoTime, renderUser } from "./render.ts";
import { HttpError } from "./http.ts";

/** What registering the app takes; the rest (keys, OAuth client, webhook secret unless given) is made. */
export interface AppRegistration {
  id?: number;
  slug?: string;
  name?: string;
  owner?: string;
  webhookSecret?: string;
  permissions: App["permissions"];
  events: string[];
  description?: string | null;
  externalUrl?: string | null;
  hookUrl?: string | null;
  callbackUrls?: string[];
  setupUrl?: string | null;
}

export class World {
  apiUrl = "";
  webUrl = "";
  readonly git: GitStore;
  readonly accounts = new Map<string, Account>();
  readonly orgs = new Map<string, Org>();
  readonly teams = new Map<string, Team>();
  readonly repos = new Map<string, Repo>();
  /** Old names of renamed and transferred repositories (lower case) → their ids. */
  readonly movedRepos = new Map<string, number>();
  readonly installations = new Map<number, Installation>();
  readonly tokens = new Map<string, Token>();
  /** The OAuth web flow's codes and refresh tokens, by their value. */
  readonly oauthCodes = new Map<string, OAuthCode>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  /** The manifest flow's codes, by their value. */
  readonly manifestCodes = new Map<string, ManifestCode>();
  /** The workflow runs GitHub would have started, oldest first (see workflows.ts). */
  readonly workflowRuns: WorkflowRun[] = [];
  /** Told of each workflow run as it is recorded (the server writes it to its request log). */
  onWorkflowRun: ((run: WorkflowRun) => void) | null = null;
  /** Added to the wall clock for token lifetimes, so tests can make tokens expire. */
  clockOffsetMs = 0;
  tokenLifetimeMs = 60 * 60 * 1000;
  #nextId = 1000;
  #app: App | null = null;
  readonly #work = new Set<Promise<void>>();
  #workErrors: unknown[] = [];

  /** `app`: the GitHub App registered from the start; null starts with none, for the manifest flow to register. */
  constructor(gitRoot: string, app: AppRegistration | null) {
    this.git = new GitStore(gitRoot);
    if (app) {
      const owner = app.owner ?? "bosun-dev";
      this.addOrg(owner);
      this.registerApp({ ...app, owner });
    }
  }

  /** The registered GitHub App; the offline GitHub holds one at most. */
  get app(): App {
    if (!this.#app) throw new Error("[offline-github] no GitHub App is registered yet (the offline GitHub was started with registerApp: false; the manifest flow registers one)");
    return this.#app;
  }

  get registeredApp(): App | null {
    return this.#app;
  }

  /** Registers the GitHub App, owned by an existing user or organization, with a fresh key pair and OAuth client. */
  registerApp(o: AppRegistration & { owner: string }): App {
    if (this.#app) throw new Error(`[offline-github] the offline GitHub holds one GitHub App, and ${this.#app.slug} is registered`);
    const owner = this.account(o.owner);
    const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const name = o.name ?? "Bosun";
    const slug = o.slug ?? name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    this.#app = {
      id: o.id ?? this.nextId(),
      slug,
      name,
      owner: owner.login,
      clientId: `Iv1.${randomBytes(8).toString("hex")}`,
      clientSecret: randomBytes(20).toString("hex"),
      privateKeyPem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
      webhookSecret: o.webhookSecret ?? randomBytes(20).toString("hex"),
      permissions: o.permissions,
      events: o.events,
      description: o.description ?? null,
      externalUrl: o.externalUrl ?? null,
      hookUrl: o.hookUrl ?? null,
      callbackUrls: o.callbackUrls ?? [],
      setupUrl: o.setupUrl ?? null,
      createdAt: new Date(),
    };
    this.#addAccount(`${slug}[bot]`, "Bot");
    return this.#app;
  }

  /**
   * Work started from synchronous code (deciding workflow runs for a webhook `emit` sends), which
   * the server awaits before it answers, so a caller sees its effects once answered.
   */
  track(p: Promise<void>): void {
    const tracked = p.catch((e: unknown) => { this.#workErrors.push(e); }).finally(() => this.#work.delete(tracked));
    this.#work.add(tracked);
  }

  /** Waits for tracked work; throws the first failure of any. */
  async settled(): Promise<void> {
    while (this.#work.size > 0) await Promise.all([...this.#work]);
    const [first] = this.#workErrors;
    this.#workErrors = [];
    if (first !== undefined) throw first instanceof Error ? first : new Error(`[offline-github] tracked work failed: ${JSON.stringify(first)}`);
  }

  now(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  nextId(): number {
    return ++this.#nextId;
  }

  #addAccount(login: string, type: Account["type"], name: string | null = null, email: string | null = null): Account {
    const key = login.toLowerCase();
    if (this.accounts.has(key)) throw new Error(`[offline-github] account ${login} exists already`);
    const a: Account = { id: this.nextId(), login, type, name, email, createdAt: this.now() };
    this.accounts.set(key, a);
    return a;
  }

  addUser(login: string, o: { type?: "User" | "Bot"; name?: string; email?: string } = {}): Account {
    return this.#addAccount(login, o.type ?? "User", o.name ?? login, o.email ?? `${login}@users.noreply.offline-github.test`);
  }

  addOrg(login: string): Org {
    const org: Org = { account: this.#addAccount(login, "Organization"), members: new Map() };
    this.orgs.set(login, org);
    return org;
  }

  get botLogin(): string {
    return `${this.app.slug}[bot]`;
  }

  findAccount(login: string): Account | undefined {
    return this.accounts.get(login.toLowerCase());
  }

  account(login: string): Account {
    const a = this.findAccount(login);
    if (!a) throw new Error(`[offline-github] no account ${login}`);
    return a;
  }

  /**
   * A repository by name; a renamed or transferred one also by its old name, until another
   * repository takes that name (GitHub answers the old name with a 301 to `/repositories/{id}`,
   * which Octokit's fetch follows; the emulator answers with the repository directly).
   */
  findRepo(owner: string, name: string): Repo | undefined {
    const key = `${owner}/${name}`.toLowerCase();
    const moved = this.movedRepos.get(key);
    return this.repos.get(key) ?? (moved === undefined ? undefined : this.repoById(moved));
  }

  repoById(id: number): Repo | undefined {
    for (const r of this.repos.values()) if (r.id === id) return r;
    return undefined;
  }

  label(r: Repo, name: string): Label {
    const l = r.labels.get(name.toLowerCase());
    if (!l) throw new Error(`[offline-github] no label ${name} in ${fullName(r)}`);
    return l;
  }

  ensureLabel(r: Repo, name: string): Label {
    const existing = r.labels.get(name.toLowerCase());
    if (existing) return existing;
    const l: Label = { id: this.nextId(), name, color: "ededed", description: null, isDefault: false };
    r.labels.set(name.toLowerCase(), l);
    return l;
  }

  team(org: string, slug: string): Team {
    const t = this.teams.get(`${org}/${slug}`.toLowerCase());
    if (!t) throw new HttpError(404, "Not Found");
    return t;
  }

  /** The user's role on the repository, as GitHub would compute it from ownership, org role, collaborators and teams. */
  roleOf(r: Repo, login: string): RepoRole {
    if (r.owner.toLowerCase() === login.toLowerCase()) return "admin";
    const org = this.orgs.get(r.owner);
    if (org?.members.get(login) === "admin") return "admin";
    let role: RepoRole = r.private ? "none" : "read";
    const direct = r.collaborators.get(login);
    if (direct && roleAtLeast(direct, role)) role = direct;
    for (const t of this.teams.values()) {
      if (t.org !== r.owner || !t.members.has(login)) continue;
      const tr = t.repos.get(fullName(r));
      if (tr && roleAtLeast(tr, role)) role = tr;
    }
    if (org?.members.has(login) && role === "none") role = "read";
    return repoRoleOrder.includes(role) ? role : "none";
  }

  installationFor(owner: string): Installation | undefined {
    for (const i of this.installations.values()) if (i.account.toLowerCase() === owner.toLowerCase()) return i;
    return undefined;
  }

  installationCovers(inst: Installation, r: Repo): boolean {
    return inst.account.toLowerCase() === r.owner.toLowerCase() && (inst.repositorySelection === "all" || inst.repositoryIds.has(r.id));
  }

  installationRepos(inst: Installation): Repo[] {
    return [...this.repos.values()].filter((r) => this.installationCovers(inst, r));
  }

  /**
   * The app as webhooks show it (`performed_via_github_app`, whose webhook schema allows no
   * `client_id`); REST answers that describe the app itself add `client_id` (see `renderAppForRest`).
   */
  renderApp(): Record<string, unknown> {
    const a = this.app;
    return {
      id: a.id,
      slug: a.slug,
      node_id: nodeId("App", a.id),
      owner: renderUser(this, this.account(a.owner)),
      name: a.name,
      description: a.description ?? "Runs coding agents on labelled issues and opens pull requests that cannot merge themselves.",
      external_url: a.externalUrl ?? `${this.webUrl}/apps/${a.slug}`,
      html_url: `${this.webUrl}/apps/${a.slug}`,
      created_at: isoTime(a.createdAt),
      updated_at: isoTime(a.createdAt),
      permissions: a.permissions,
      events: a.events,
    };
  }

  renderAppForRest(): Record<string, unknown> {
    const { id, slug, node_id, ...rest } = this.renderApp();
    return { id, slug, node_id, client_id: this.app.clientId, ...rest };
  }
}
