// The person using the dashboard, as GitHub knows them: the GitHub App's OAuth web flow signs them
// in, and their own user token answers what they may see and do. GitHub decides, not Bosun: a
// GitHub App's user token reaches only repositories both the person and the app can reach.
import { createHash } from "node:crypto";
import { Octokit } from "@octokit/rest";
import PQueue from "p-queue";

export interface OAuthSettings {
  webUrl: string;
  apiUrl: string;
  clientId: string;
  clientSecret: string;
}

export class SignInFailed extends Error {}
/** The person's token no longer works (expired or revoked): they sign in again. */
export class SignInExpired extends Error {}

export function authorizeUrl(o: OAuthSettings, redirectUri: string, state: string): string {
  const u = new URL("/login/oauth/authorize", o.webUrl);
  u.searchParams.set("client_id", o.clientId);
  u.searchParams.set("redirect_uri", redirectUri);
  u.searchParams.set("state", state);
  return u.toString();
}

/** Trades the code GitHub sent back for the person's user token. */
export async function exchangeCode(o: OAuthSettings, code: string, redirectUri: string): Promise<{ token: string; expiresAt: Date | null }> {
  const res = await fetch(new URL("/login/oauth/access_token", o.webUrl), {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/json" },
    body: JSON.stringify({ client_id: o.clientId, client_secret: o.clientSecret, code, redirect_uri: redirectUri }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json().catch(() => ({}))) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  // GitHub answers a bad code with 200 and an `error` field.
  if (!res.ok || !body.access_token) throw new SignInFailed(body.error_description ?? body.error ?? `GitHub answered ${res.status}`);
  return { token: body.access_token, expiresAt: typeof body.expires_in === "number" ? new Date(Date.now() + body.expires_in * 1000) : null };
}

export interface RepoAccess {
  /** The repository GitHub answered with: a name can pass to another repository after a rename or transfer. */
  id: number;
  read: boolean;
  write: boolean;
  admin: boolean;
}

interface Cached<T> { value: T; until: number }
const accessCache = new Map<string, Cached<RepoAccess | null>>();
const membershipCache = new Map<string, Cached<"admin" | "member" | null>>();
/** How long an answer from GitHub stands: a revoked permission stops working within this. */
const cacheMs = 60_000;

// A 404 or 401 here is an answer (no access, sign in again), not something to log.
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Octokit acting as the signed-in person. Errors are mapped: 401 means sign in again. */
export class Viewer {
  readonly login: string;
  readonly #octokit: Octokit;
  readonly #key: string;

  constructor(o: { apiUrl: string; token: string; login: string }) {
    this.login = o.login;
    this.#key = createHash("sha256").update(o.token).digest("hex");
    this.#octokit = new Octokit({ auth: o.token, baseUrl: o.apiUrl, request: { timeout: 10_000 }, log: quiet });
  }

  static async identify(o: { apiUrl: string; token: string }): Promise<{ login: string; id: number }> {
    const octokit = new Octokit({ auth: o.token, baseUrl: o.apiUrl, request: { timeout: 10_000 }, log: quiet });
    try {
      const { data } = await octokit.rest.users.getAuthenticated();
      return { login: data.login, id: data.id };
    } catch (e) {
      if ((e as { status?: number }).status === 401) throw new SignInExpired("GitHub no longer accepts this token");
      throw e;
    }
  }

  /** What the person may do in a repository; null when they cannot see it (GitHub's 404). */
  async access(owner: string, repo: string): Promise<RepoAccess | null> {
    const key = `${this.#key}:${owner}/${repo}`.toLowerCase();
    const hit = accessCache.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    let value: RepoAccess | null;
    try {
      const { data } = await this.#octokit.rest.repos.get({ owner, repo });
      const p = data.permissions;
      value = { id: data.id, read: p?.pull ?? false, write: p?.push ?? false, admin: p?.admin ?? false };
      if (!value.read) value = null;
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 401) throw new SignInExpired("GitHub no longer accepts this token");
      if (status !== 404 && status !== 403) throw e;
      value = null;
    }
    accessCache.set(key, { value, until: Date.now() + cacheMs });
    return value;
  }

  /**
   * The repositories of `all` this person can read, asking GitHub a few at a time. A repository
   * counts only when the name answers with its id: the name's new owner does not inherit its runs.
   */
  async readable<T extends { repoId: number; owner: string; repo: string }>(all: T[]): Promise<(T & { access: RepoAccess })[]> {
    const queue = new PQueue({ concurrency: 8 });
    const answers = await Promise.all(all.map((r) => queue.add(async () => this.access(r.owner, r.repo))));
    const out: (T & { access: RepoAccess })[] = [];
    all.forEach((r, i) => {
      const access = answers[i];
      if (access && access.id === r.repoId) out.push({ ...r, access });
    });
    return out;
  }

  /** Whether the person is an active admin of the organization (GitHub's membership answer). */
  async isOrgAdmin(org: string): Promise<boolean> {
    return (await this.#membership(org)) === "admin";
  }

  /** Whether the person is an active member of the organization, or is the account itself (a user's own repositories). */
  async isOrgMember(org: string): Promise<boolean> {
    return org.toLowerCase() === this.login.toLowerCase() || (await this.#membership(org)) !== null;
  }

  async #membership(org: string): Promise<"admin" | "member" | null> {
    const key = `${this.#key}:${org}`.toLowerCase();
    const hit = membershipCache.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    let value: "admin" | "member" | null = null;
    try {
      const { data } = await this.#octokit.rest.orgs.getMembershipForAuthenticatedUser({ org });
      value = data.state !== "active" ? null : data.role === "admin" ? "admin" : "member";
    } catch (e) {
      const status = (e as { status?: number }).status;
      if (status === 401) throw new SignInExpired("GitHub no longer accepts this token");
      if (status !== 404 && status !== 403) throw e;
    }
    membershipCache.set(key, { value, until: Date.now() + cacheMs });
    return value;
  }
}
