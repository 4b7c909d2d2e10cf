// Repositories, contents, branches and their protection, refs, collaborators, org and team membership.
import type { Reply } from "../http.ts";
import { HttpError, validationFailed } from "../http.ts";
import type { BranchProtection, Repo } from "../model.ts";
import { fullName } from "../model.ts";
import { nodeId, permissionFlags, renderFullRepo, renderUser } from "../render.ts";
import type { World } from "../world.ts";
import type { Ctx, Route } from "./context.ts";
import { json, noContent } from "./context.ts";

const read = (resource: string): { permission: [string, "read"] } => ({ permission: [resource, "read"] });

export function renderProtection(w: World, r: Repo, branch: string, p: BranchProtection): Record<string, unknown> {
  const url = `${w.apiUrl}/repos/${fullName(r)}/branches/${encodeURIComponent(branch)}/protection`;
  const out: Record<string, unknown> = {
    url,
    required_signatures: { url: `${url}/required_signatures`, enabled: false },
    enforce_admins: { url: `${url}/enforce_admins`, enabled: p.enforceAdmins },
    required_linear_history: { enabled: false },
    allow_force_pushes: { enabled: p.allowForcePushes },
    allow_deletions: { enabled: p.allowDeletions },
    block_creations: { enabled: false },
    required_conversation_resolution: { enabled: false },
    lock_branch: { enabled: false },
    allow_fork_syncing: { enabled: false },
  };
  if (p.requiredStatusChecks) {
    out["required_status_checks"] = {
      url: `${url}/required_status_checks`,
      strict: p.requiredStatusChecks.strict,
      contexts: p.requiredStatusChecks.contexts,
      contexts_url: `${url}/required_status_checks/contexts`,
      checks: p.requiredStatusChecks.contexts.map((context) => ({ context, app_id: p.requiredStatusChecks?.apps?.[context] ?? null })),
    };
  }
  if (p.requiredPullRequestReviews) {
    out["required_pull_request_reviews"] = {
      url: `${url}/required_pull_request_reviews`,
      dismiss_stale_reviews: p.requiredPullRequestReviews.dismissStaleReviews,
      require_code_owner_reviews: p.requiredPullRequestReviews.requireCodeOwnerReviews,
      required_approving_review_count: p.requiredPullRequestReviews.requiredApprovingReviewCount,
      require_last_push_approval: p.requiredPullRequestReviews.requireLastPushApproval ?? false,
    };
  }
  return out;
}

/**
 * `PUT …/branches/{branch}/protection`, GitHub's body: the four keys required (each may be null);
 * `restrictions` (who may push) is not offered by the offline GitHub and must be null.
 * https://docs.github.com/en/rest/branches/branch-protection#update-branch-protection
 */
function protectionFromBody(body: Record<string, unknown>, existing: BranchProtection | undefined): BranchProtection {
  for (const key of ["required_status_checks", "enforce_admins", "required_pull_request_reviews", "restrictions"]) {
    if (!(key in body)) throw validationFailed("Invalid request.\n\n\"" + key + "\" wasn't supplied.");
  }
  if (body["restrictions"] !== null) throw validationFailed("Validation Failed: push restrictions are not offered by the offline GitHub (send restrictions: null).");
  const obj = (key: string): Record<string, unknown> | null => {
    const v = body[key];
    if (v === null) return null;
    if (typeof v !== "object" || Array.isArray(v)) throw validationFailed(`Invalid request.\n\nFor '${key}', ${JSON.stringify(v)} is not an object or null.`);
    return v as Record<string, unknown>;
  };
  const bool = (o: Record<string, unknown>, key: string, fallback: boolean): boolean => {
    const v = o[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") throw validationFailed(`Invalid request.\n\nFor '${key}', ${JSON.stringify(v)} is not a boolean.`);
    return v;
  };
  const rsc = obj("required_status_checks");
  let requiredStatusChecks: BranchProtection["requiredStatusChecks"] = null;
  if (rsc) {
    const checks = Array.isArray(rsc["checks"]) ? (rsc["checks"] as unknown[]).filter((c): c is Record<string, unknown> => typeof c === "object" && c !== null) : null;
    const contexts = checks ? checks.map((c) => String(c["context"])) : Array.isArray(rsc["contexts"]) ? (rsc["contexts"] as unknown[]).map(String) : [];
    const apps: Record<string, number> = {};
    for (const c of checks ?? []) if (typeof c["app_id"] === "number" && c["app_id"] > 0) apps[String(c["context"])] = c["app_id"];
    requiredStatusChecks = { strict: bool(rsc, "strict", false), contexts, ...(Object.keys(apps).length > 0 ? { apps } : {}) };
  }
  const rpr = obj("required_pull_request_reviews");
  const count = rpr?.["required_approving_review_count"];
  if (count !== undefined && (typeof count !== "number" || !Number.isInteger(count) || count < 0 || count > 6)) {
    throw validationFailed("Invalid request.\n\nrequired_approving_review_count must be an integer from 0 to 6.");
  }
  return {
    requiredStatusChecks,
    requiredPullRequestReviews: rpr ? {
      requiredApprovingReviewCount: typeof count === "number" ? count : 1,
      requireCodeOwnerReviews: bool(rpr, "require_code_owner_reviews", false),
      dismissStaleReviews: bool(rpr, "dismiss_stale_reviews", false),
      requireLastPushApproval: bool(rpr, "require_last_push_approval", false),
    } : null,
    enforceAdmins: body["enforce_admins"] === true,
    allowForcePushes: typeof body["allow_force_pushes"] === "boolean" ? body["allow_force_pushes"] : existing?.allowForcePushes ?? false,
    allowDeletions: typeof body["allow_deletions"] === "boolean" ? body["allow_deletions"] : existing?.allowDeletions ?? false,
  };
}

async function renderCommit(w: World, r: Repo, sha: string): Promise<Record<string, unknown>> {
  const c = await w.git.commitInfo(r.owner, r.name, sha);
  if (!c) throw new HttpError(404, "Not Found");
  const api = `${w.apiUrl}/repos/${fullName(r)}`;
  const person = (email: string): Record<string, unknown> | null => {
    for (const a of w.accounts.values()) if (a.email === email) return renderUser(w, a);
    return null;
  };
  return {
    sha: c.sha,
    node_id: nodeId("Commit", parseInt(c.sha.slice(0, 8), 16)),
    url: `${api}/commits/${c.sha}`,
    html_url: `${w.webUrl}/${fullName(r)}/commit/${c.sha}`,
    comments_url: `${api}/commits/${c.sha}/comments`,
    commit: {
      url: `${api}/git/commits/${c.sha}`,
      author: c.author,
      committer: c.committer,
      message: c.message,
      comment_count: 0,
      tree: { sha: c.tree, url: `${api}/git/trees/${c.tree}` },
      verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
    },
    author: person(c.author.email),
    committer: person(c.committer.email),
    parents: c.parents.map((p) => ({ sha: p, url: `${api}/commits/${p}`, html_url: `${w.webUrl}/${fullName(r)}/commit/${p}` })),
  };
}

function contentEntry(w: World, r: Repo, ref: string, e: { type: "file" | "dir"; name: string; path: string; sha: string; size: number }): Record<string, unknown> {
  const url = `${w.apiUrl}/repos/${fullName(r)}/contents/${e.path}?ref=${encodeURIComponent(ref)}`;
  const gitUrl = `${w.apiUrl}/repos/${fullName(r)}/git/${e.type === "dir" ? "trees" : "blobs"}/${e.sha}`;
  const htmlUrl = `${w.webUrl}/${fullName(r)}/${e.type === "dir" ? "tree" : "blob"}/${ref}/${e.path}`;
  return {
    type: e.type,
    size: e.size,
    name: e.name,
    path: e.path,
    sha: e.sha,
    url,
    git_url: gitUrl,
    html_url: htmlUrl,
    download_url: e.type === "file" ? `${w.webUrl}/raw/${fullName(r)}/${ref}/${e.path}` : null,
    _links: { self: url, git: gitUrl, html: htmlUrl },
  };
}

async function getContents(ctx: Ctx): Promise<Reply> {
  const { w, repo: r, url } = ctx;
  const ref = url.searchParams.get("ref") ?? r.defaultBranch;
  const commit = await w.git.resolve(r.owner, r.name, ref);
  if (!commit) throw new HttpError(404, `No commit found for the ref ${ref}`);
  const path = (ctx.params["path"] ?? "").replace(/^\/+/, "");
  const e = await w.git.entry(r.owner, r.name, commit, path);
  if (!e) throw new HttpError(404, "Not Found");
  if (e.type === "dir") {
    return json(200, e.entries.map((x) => contentEntry(w, r, ref, x)));
  }
  if (/application\/vnd\.github(\.v3)?\.raw/.test(ctx.accept)) {
    return { status: 200, raw: e.content, headers: { "content-type": "application/vnd.github.raw; charset=utf-8" } };
  }
  const name = path.split("/").pop() ?? path;
  const b64 = e.content.toString("base64").replace(/(.{60})/g, "$1\n");
  return json(200, { ...contentEntry(w, r, ref, { type: "file", name, path, sha: e.sha, size: e.content.length }), content: b64, encoding: "base64" });
}

export const repoRoutes: Route[] = [
  {
    method: "GET", path: "/repos/{owner}/{repo}", auth: "repo", need: read("metadata"),
    handle: ({ w, repo, principal }) => json(200, renderFullRepo(w, repo, principal.kind === "user" ? w.roleOf(repo, principal.login) : null)),
  },
  { method: "GET", path: "/repos/{owner}/{repo}/contents/{path}", auth: "repo", need: read("contents"), handle: getContents },
  {
    method: "GET", path: "/repos/{owner}/{repo}/branches/{branch}", auth: "repo", need: read("contents"),
    handle: async ({ w, repo: r, params }) => {
      const branch = params["branch"] ?? "";
      const sha = await w.git.resolve(r.owner, r.name, `refs/heads/${branch}`);
      if (!sha) throw new HttpError(404, "Branch not found");
      const p = r.protection.get(branch);
      const url = `${w.apiUrl}/repos/${fullName(r)}/branches/${encodeURIComponent(branch)}`;
      return json(200, {
        name: branch,
        commit: await renderCommit(w, r, sha),
        _links: { html: `${w.webUrl}/${fullName(r)}/tree/${branch}`, self: url },
        protected: p !== undefined,
        protection: p ? renderProtection(w, r, branch, p) : { enabled: false, required_status_checks: { enforcement_level: "off", contexts: [], checks: [] } },
        protection_url: `${url}/protection`,
      });
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/branches/{branch}/protection", auth: "repo", need: { permission: ["administration", "read"], role: "admin" },
    handle: ({ w, repo: r, params }) => {
      const branch = params["branch"] ?? "";
      const p = r.protection.get(branch);
      if (!p) throw new HttpError(404, "Branch not protected");
      return json(200, renderProtection(w, r, branch, p));
    },
  },
  {
    method: "PUT", path: "/repos/{owner}/{repo}/branches/{branch}/protection", auth: "repo", need: { permission: ["administration", "write"], role: "admin" },
    handle: async ({ w, repo: r, params, body }) => {
      const branch = params["branch"] ?? "";
      if (!(await w.git.resolve(r.owner, r.name, `refs/heads/${branch}`))) throw new HttpError(404, "Branch not found");
      const p = protectionFromBody(body, r.protection.get(branch));
      r.protection.set(branch, p);
      return json(200, renderProtection(w, r, branch, p));
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/git/ref/{ref}", auth: "repo", need: read("contents"),
    handle: async ({ w, repo: r, params }) => {
      const ref = `refs/${params["ref"] ?? ""}`;
      const sha = (await w.git.refs(r.owner, r.name)).get(ref);
      if (!sha) throw new HttpError(404, "Not Found");
      return json(200, {
        ref,
        node_id: nodeId("Ref", r.id),
        url: `${w.apiUrl}/repos/${fullName(r)}/git/${ref}`,
        object: { type: "commit", sha, url: `${w.apiUrl}/repos/${fullName(r)}/git/commits/${sha}` },
      });
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/collaborators/{username}/permission", auth: "repo", need: read("metadata"),
    handle: ({ w, repo: r, params }) => {
      const user = w.findAccount(params["username"] ?? "");
      if (!user || user.type === "Organization") throw new HttpError(404, "Not Found");
      const role = w.roleOf(r, user.login);
      // The legacy `permission` field folds maintain into write and triage into read.
      const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
      return json(200, {
        permission,
        role_name: role,
        user: { ...renderUser(w, user), permissions: role === "none" ? permissionFlags("none") : permissionFlags(role), role_name: role },
      });
    },
  },
  {
    method: "GET", path: "/orgs/{org}/members/{username}", auth: "token",
    handle: ({ w, params, principal }) => {
      const org = w.orgs.get(params["org"] ?? "");
      if (!org) throw new HttpError(404, "Not Found");
      if (principal.kind === "installation" && !(principal.token.permissions["members"])) throw new HttpError(403, "Resource not accessible by integration");
      if (!org.members.has(params["username"] ?? "")) throw new HttpError(404, "User does not exist or is not a member of the organization");
      return noContent();
    },
  },
  {
    method: "GET", path: "/orgs/{org}/teams/{team_slug}/memberships/{username}", auth: "token",
    handle: ({ w, params, principal }) => {
      if (principal.kind === "installation" && !(principal.token.permissions["members"])) throw new HttpError(403, "Resource not accessible by integration");
      const t = w.team(params["org"] ?? "", params["team_slug"] ?? "");
      const login = params["username"] ?? "";
      // GitHub's description documents this 404 ("no team membership") without a body.
      if (!t.members.has(login)) return { status: 404 };
      return json(200, {
        url: `${w.apiUrl}/organizations/${w.account(t.org).id}/team/${t.id}/memberships/${login}`,
        role: "member",
        state: "active",
      });
    },
  },
];
