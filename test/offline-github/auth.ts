// Who is calling, and may they: the app's RS256 JWT, installation tokens scoped to repositories
// and permissions, users' personal tokens scoped by their role, and the app's user access tokens
// scoped by both. Answers mirror GitHub's:
// 401 bad or expired credentials, 404 for a repository the token cannot see, 403 for a missing permission.
import { createPublicKey, createVerify, randomBytes } from "node:crypto";
import type { Installation, Permissions, Repo, RepoRole, Token } from "./model.ts";
import { roleAtLeast } from "./model.ts";
import { HttpError } from "./http.ts";
import type { World } from "./world.ts";

export type Principal =
  | { kind: "anonymous" }
  | { kind: "app" }
  | { kind: "installation"; token: Token; installation: Installation }
  | { kind: "user"; token: Token; login: string };

const badCredentials = (): HttpError => new HttpError(401, "Bad credentials");

export function verifyAppJwt(w: World, jwt: string): void {
  const parts = jwt.split(".");
  if (parts.length !== 3) throw new HttpError(401, "A JSON web token could not be decoded");
  const [h, p, s] = parts as [string, string, string];
  let header: { alg?: string };
  let claims: { iat?: number; exp?: number; iss?: string | number };
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString()) as typeof header;
    claims = JSON.parse(Buffer.from(p, "base64url").toString()) as typeof claims;
  } catch {
    throw new HttpError(401, "A JSON web token could not be decoded");
  }
  if (header.alg !== "RS256") throw new HttpError(401, "A JSON web token could not be decoded");
  // No app registered yet (the manifest flow has not run): no key can have signed this.
  const app = w.registeredApp;
  if (!app) throw new HttpError(401, "A JSON web token could not be decoded");
  const verifier = createVerify("RSA-SHA256");
  verifier.update(`${h}.${p}`);
  if (!verifier.verify(createPublicKey(app.publicKeyPem), Buffer.from(s, "base64url"))) {
    throw new HttpError(401, "A JSON web token could not be decoded");
  }
  if (String(claims.iss) !== String(app.id) && claims.iss !== app.clientId) {
    throw new HttpError(401, "'Issuer' claim ('iss') must be an Integer");
  }
  // JWTs are checked against the real clock: the app's clock and GitHub's agree, and the
  // emulator's adjustable clock is only for installation token lifetimes.
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.iat !== "number" || claims.iat > now + 60) {
    throw new HttpError(401, "'Issued at' claim ('iat') must be an Integer representing a time in the past.");
  }
  if (typeof claims.exp !== "number" || claims.exp <= now) {
    throw new HttpError(401, "'Expiration time' claim ('exp') is too far in the future or expired");
  }
  if (claims.exp - claims.iat > 600 + 60) {
    throw new HttpError(401, "'Expiration time' claim ('exp') is too far in the future");
  }
}

export function resolvePrincipal(w: World, authorization: string | undefined): Principal {
  if (!authorization) return { kind: "anonymous" };
  const m = /^(bearer|token)\s+(\S+)$/i.exec(authorization.trim());
  if (m?.[2]) {
    const credential = m[2];
    if (credential.split(".").length === 3 && credential.startsWith("ey")) {
      verifyAppJwt(w, credential);
      return { kind: "app" };
    }
    return principalForToken(w, credential);
  }
  const basic = /^basic\s+(\S+)$/i.exec(authorization.trim());
  if (basic?.[1]) {
    const [, password] = Buffer.from(basic[1], "base64").toString().split(/:(.*)/s);
    if (password) return principalForToken(w, password);
  }
  throw badCredentials();
}

export function principalForToken(w: World, value: string): Principal {
  const t = w.tokens.get(value);
  if (!t || t.revokedAt) throw badCredentials();
  if (t.expiresAt && w.now() >= t.expiresAt) throw badCredentials();
  if (t.kind === "installation") {
    const inst = t.installationId !== null ? w.installations.get(t.installationId) : undefined;
    if (!inst) throw badCredentials();
    return { kind: "installation", token: t, installation: inst };
  }
  if (!t.login) throw badCredentials();
  return { kind: "user", token: t, login: t.login };
}

const levelRank = { read: 1, write: 2, admin: 3 } as const;

/** What a call on a repository needs: an installation permission, or a user's role. */
export interface RepoNeed {
  permission: [resource: string, level: "read" | "write"];
  /** For user tokens; GitHub decides by role. Defaults to read for reads and write for writes. */
  role?: RepoRole;
  /** A second permission that serves as well (issues endpoints on pull requests accept pull_requests). */
  orPermission?: [resource: string, level: "read" | "write"];
}

export function tokenHas(perms: Permissions, resource: string, level: "read" | "write"): boolean {
  if (resource === "metadata" && level === "read") return true;
  const have = perms[resource];
  return have !== undefined && levelRank[have] >= levelRank[level];
}

export function tokenSeesRepo(w: World, p: Principal & { kind: "installation" }, r: Repo): boolean {
  if (!w.installationCovers(p.installation, r)) return false;
  return p.token.repositoryIds === null || p.token.repositoryIds.includes(r.id);
}

function permitsNeed(perms: Permissions, need: RepoNeed): boolean {
  return tokenHas(perms, ...need.permission) || (need.orPermission ? tokenHas(perms, ...need.orPermission) : false);
}

/**
 * The app's installation that covers `r`, if any: a user access token (`ghu_`) reaches only such
 * repositories, and only with the permissions that installation has as well as the user's role.
 */
export function appInstallationFor(w: World, r: Repo): Installation | undefined {
  const inst = w.installationFor(r.owner);
  return inst && w.installationCovers(inst, r) ? inst : undefined;
}

/** Throws GitHub's answer when the principal may not do `need` on `r`. */
export function checkRepoAccess(w: World, p: Principal, r: Repo | undefined, need: RepoNeed): asserts r is Repo {
  if (p.kind === "app") throw new HttpError(401, "A JSON web token is not accepted here; use an installation access token.");
  if (!r) throw new HttpError(404, "Not Found");
  if (p.kind === "anonymous") {
    if (r.private) throw new HttpError(404, "Not Found");
    if (need.permission[1] !== "read") throw new HttpError(401, "Requires authentication");
    return;
  }
  if (p.kind === "installation") {
    if (!tokenSeesRepo(w, p, r)) throw new HttpError(404, "Not Found");
    if (!permitsNeed(p.token.permissions, need)) throw new HttpError(403, "Resource not accessible by integration");
    return;
  }
  const role = w.roleOf(r, p.login);
  if (role === "none") throw new HttpError(404, "Not Found");
  if (p.token.userToServer) {
    const inst = appInstallationFor(w, r);
    if (!inst) throw new HttpError(404, "Not Found");
    if (!permitsNeed(inst.permissions, need)) throw new HttpError(403, "Resource not accessible by integration");
  }
  const wanted = need.role ?? (need.permission[1] === "read" ? "read" : "write");
  if (!roleAtLeast(role, wanted)) throw new HttpError(403, "Must have admin rights to Repository.");
}

export function mintInstallationToken(w: World, inst: Installation, o: { repositoryIds: number[] | null; permissions: Permissions }): Token {
  const now = w.now();
  const t: Token = {
    token: `ghs_${randomBytes(18).toString("base64url")}`,
    kind: "installation",
    installationId: inst.id,
    login: null,
    userToServer: false,
    repositoryIds: o.repositoryIds,
    permissions: o.permissions,
    createdAt: now,
    expiresAt: new Date(now.getTime() + w.tokenLifetimeMs),
    revokedAt: null,
    calls: [],
  };
  w.tokens.set(t.token, t);
  return t;
}

/** GitHub's lifetimes for a user access token and its refresh token (8 hours; "6 months" in seconds, as the docs give it). */
export const userTokenLifetimeSeconds = 8 * 60 * 60;
export const refreshTokenLifetimeSeconds = 15_811_200;

/**
 * A personal access token (`ghp_`, no expiry), or a user access token of the app (`ghu_`, from the
 * OAuth web flow) that expires after 8 hours by the world's clock.
 */
export function mintUserToken(w: World, login: string, prefix: "ghp" | "ghu" = "ghp"): Token {
  const now = w.now();
  const t: Token = {
    token: `${prefix}_${randomBytes(18).toString("base64url")}`,
    kind: "user",
    installationId: null,
    login,
    userToServer: prefix === "ghu",
    repositoryIds: null,
    permissions: {},
    createdAt: now,
    expiresAt: prefix === "ghu" ? new Date(now.getTime() + userTokenLifetimeSeconds * 1000) : null,
    revokedAt: null,
    calls: [],
  };
  w.tokens.set(t.token, t);
  return t;
}
