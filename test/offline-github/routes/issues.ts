// Issues, labels, comments and reactions. Issue endpoints also serve pull requests, as on GitHub,
import type { Reply } from "../http.ts";
// and then send `pull_request` events instead of `issues` events.
import { HttpError, paginate, validationFailed } from "../http.ts";
import type { Comment, Issue, Repo } from "../model.ts";
import { nodeId, renderComment, renderIssue, renderLabel, renderUserByLogin, isoTime } from "../render.ts";
import type { World } from "../world.ts";
import type { Ctx, Route } from "./context.ts";
import { actorLogin, emit, issueOr404, json, str, viaApp } from "./context.ts";
import { pullPayload } from "./pulls.ts";

const issuesRead = { permission: ["issues", "read"] as [string, "read"], orPermission: ["pull_requests", "read"] as [string, "read"] };
const issuesWrite = (role: "read" | "triage" = "triage") => ({ permission: ["issues", "write"] as [string, "write"], orPermission: ["pull_requests", "write"] as [string, "write"], role });

async function emitIssueEvent(ctx: Ctx, r: Repo, i: Issue, action: string, extra: Record<string, unknown> = {}): Promise<void> {
  const sender = actorLogin(ctx);
  if (i.pull) {
    emit(ctx, r, "pull_request", sender, { action, number: i.number, pull_request: await pullPayload(ctx.w, r, i), ...extra });
  } else {
    emit(ctx, r, "issues", sender, { action, issue: renderIssue(ctx.w, r, i), ...extra });
  }
}

export function createIssue(w: World, r: Repo, o: { title: string; body: string | null; user: string; labels?: string[]; viaApp?: boolean }): Issue {
  const now = w.now();
  const i: Issue = {
    id: w.nextId(), number: r.nextNumber++, title: o.title, body: o.body, user: o.user, state: "open", stateReason: null,
    labels: [], assignees: [], locked: false, createdAt: now, updatedAt: now, closedAt: null, reactions: [], viaApp: o.viaApp ?? false, pull: null,
  };
  for (const l of o.labels ?? []) i.labels.push(w.ensureLabel(r, l).name);
  r.issues.set(i.number, i);
  return i;
}

function addComment(ctx: Ctx): Reply {
  const { w, repo: r } = ctx;
  const i = issueOr404(r, ctx.params["issue_number"]);
  const body = str(ctx.body, "body", true);
  if (i.locked && ctx.principal.kind === "user" && w.roleOf(r, ctx.principal.login) === "read") throw new HttpError(403, "Unable to create comment because issue is locked.");
  const now = w.now();
  const c: Comment = { id: w.nextId(), issueNumber: i.number, user: actorLogin(ctx), body, createdAt: now, updatedAt: now, viaApp: viaApp(ctx) };
  r.comments.set(c.id, c);
  i.updatedAt = now;
  emit(ctx, r, "issue_comment", c.user, { action: "created", issue: renderIssue(w, r, i), comment: renderComment(w, r, c) });
  return json(201, renderComment(w, r, c), { location: `${w.apiUrl}/repos/${r.owner}/${r.name}/issues/comments/${c.id}` });
}

function addReaction(ctx: Ctx, list: { id: number; user: string; content: string; createdAt: Date }[]): Reply {
  const content = str(ctx.body, "content", true);
  const allowed = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"];
  if (!allowed.includes(content)) throw validationFailed("Validation Failed", [{ resource: "Reaction", field: "content", code: "invalid" }]);
  const user = actorLogin(ctx);
  const existing = list.find((x) => x.user === user && x.content === content);
  const render = (x: { id: number; user: string; content: string; createdAt: Date }): Record<string, unknown> => ({
    id: x.id, node_id: nodeId("Reaction", x.id), user: renderUserByLogin(ctx.w, x.user), content: x.content, created_at: isoTime(x.createdAt),
  });
  if (existing) return json(200, render(existing));
  const x = { id: ctx.w.nextId(), user, content, createdAt: ctx.w.now() };
  list.push(x);
  return json(201, render(x));
}

function commentOr404(r: Repo, id: string | undefined): Comment {
  const c = r.comments.get(Number(id));
  if (!c) throw new HttpError(404, "Not Found");
  return c;
}

const commentReactions = new WeakMap<Comment, { id: number; user: string; content: string; createdAt: Date }[]>();

export const issueRoutes: Route[] = [
  {
    method: "GET", path: "/repos/{owner}/{repo}/issues/{issue_number}", auth: "repo", need: issuesRead,
    handle: ({ w, repo, params }) => json(200, renderIssue(w, repo, issueOr404(repo, params["issue_number"]))),
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/issues", auth: "repo", need: issuesWrite("read"), sends: ["issues.opened"],
    handle: (ctx) => {
      const { w, repo: r } = ctx;
      const labels = Array.isArray(ctx.body["labels"]) ? (ctx.body["labels"] as unknown[]).filter((x): x is string => typeof x === "string") : [];
      const i = createIssue(w, r, { title: str(ctx.body, "title", true), body: str(ctx.body, "body") ?? null, user: actorLogin(ctx), labels, viaApp: viaApp(ctx) });
      emit(ctx, r, "issues", i.user, { action: "opened", issue: renderIssue(w, r, i) });
      return json(201, renderIssue(w, r, i), { location: `${w.apiUrl}/repos/${r.owner}/${r.name}/issues/${i.number}` });
    },
  },
  {
    method: "PATCH", path: "/repos/{owner}/{repo}/issues/{issue_number}", auth: "repo", need: issuesWrite("read"),
    sends: ["issues.edited", "issues.closed", "issues.reopened"],
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const i = issueOr404(r, ctx.params["issue_number"]);
      const actor = actorLogin(ctx);
      if (ctx.principal.kind === "user" && i.user !== actor && w.roleOf(r, actor) === "read") throw new HttpError(403, "Must have triage access to edit this issue.");
      const changes: Record<string, { from: unknown }> = {};
      const title = str(ctx.body, "title");
      if (title !== undefined && title !== i.title) { changes["title"] = { from: i.title }; i.title = title; }
      if ("body" in ctx.body) { const b = str(ctx.body, "body") ?? null; if (b !== i.body) { changes["body"] = { from: i.body }; i.body = b; } }
      const state = str(ctx.body, "state");
      if (state !== undefined && state !== "open" && state !== "closed") throw validationFailed("Validation Failed", [{ resource: "Issue", field: "state", code: "invalid" }]);
      i.updatedAt = w.now();
      if (Object.keys(changes).length > 0) await emitIssueEvent(ctx, r, i, "edited", { changes });
      if (state && state !== i.state) {
        i.state = state;
        i.closedAt = state === "closed" ? w.now() : null;
        i.stateReason = state === "closed" ? ((str(ctx.body, "state_reason") as Issue["stateReason"]) ?? "completed") : "reopened";
        await emitIssueEvent(ctx, r, i, state === "closed" ? "closed" : "reopened");
      }
      return json(200, renderIssue(w, r, i));
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/issues/{issue_number}/labels", auth: "repo", need: issuesWrite(),
    sends: ["issues.labeled", "pull_request.labeled"],
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const i = issueOr404(r, ctx.params["issue_number"]);
      const raw = Array.isArray(ctx.body["labels"]) ? ctx.body["labels"] : Array.isArray(ctx.rawBody) ? ctx.rawBody : null;
      if (!raw || raw.some((x) => typeof x !== "string")) throw validationFailed("Invalid request.\n\nNo subschema in \"anyOf\" matched.");
      for (const name of raw as string[]) {
        const l = w.ensureLabel(r, name);
        if (i.labels.some((x) => x.toLowerCase() === l.name.toLowerCase())) continue;
        i.labels.push(l.name);
        i.updatedAt = w.now();
        await emitIssueEvent(ctx, r, i, "labeled", { label: renderLabel(w, r, l) });
      }
      return json(200, i.labels.map((n) => renderLabel(w, r, w.label(r, n))));
    },
  },
  {
    method: "DELETE", path: "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", auth: "repo", need: issuesWrite(),
    sends: ["issues.unlabeled", "pull_request.unlabeled"],
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const i = issueOr404(r, ctx.params["issue_number"]);
      const name = ctx.params["name"] ?? "";
      const at = i.labels.findIndex((x) => x.toLowerCase() === name.toLowerCase());
      if (at < 0) throw new HttpError(404, "Label does not exist");
      const l = w.label(r, i.labels[at] ?? name);
      i.labels.splice(at, 1);
      i.updatedAt = w.now();
      await emitIssueEvent(ctx, r, i, "unlabeled", { label: renderLabel(w, r, l) });
      return json(200, i.labels.map((n) => renderLabel(w, r, w.label(r, n))));
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/labels/{name}", auth: "repo", need: issuesRead,
    handle: ({ w, repo: r, params }) => {
      const l = r.labels.get((params["name"] ?? "").toLowerCase());
      if (!l) throw new HttpError(404, "Not Found");
      return json(200, renderLabel(w, r, l));
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/labels", auth: "repo", need: { permission: ["issues", "write"], orPermission: ["pull_requests", "write"], role: "write" },
    handle: ({ w, repo: r, body }) => {
      const name = str(body, "name", true);
      if (r.labels.has(name.toLowerCase())) throw validationFailed("Validation Failed", [{ resource: "Label", code: "already_exists", field: "name" }]);
      const l = w.ensureLabel(r, name);
      l.color = (str(body, "color") ?? "ededed").replace(/^#/, "");
      l.description = str(body, "description") ?? null;
      return json(201, renderLabel(w, r, l), { location: `${w.apiUrl}/repos/${r.owner}/${r.name}/labels/${encodeURIComponent(name)}` });
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/issues/{issue_number}/comments", auth: "repo", need: issuesRead,
    handle: ({ w, repo: r, params, url }) => {
      const i = issueOr404(r, params["issue_number"]);
      const since = url.searchParams.get("since");
      const all = [...r.comments.values()].filter((c) => c.issueNumber === i.number && (!since || c.updatedAt >= new Date(since)));
      const { page, link } = paginate(url, all);
      return json(200, page.map((c) => renderComment(w, r, c)), link ? { link } : undefined);
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/issues/{issue_number}/comments", auth: "repo", need: issuesWrite("read"),
    sends: ["issue_comment.created"], handle: addComment,
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/issues/comments/{comment_id}", auth: "repo", need: issuesRead,
    handle: ({ w, repo: r, params }) => json(200, renderComment(w, r, commentOr404(r, params["comment_id"]))),
  },
  {
    method: "PATCH", path: "/repos/{owner}/{repo}/issues/comments/{comment_id}", auth: "repo", need: issuesWrite("read"),
    sends: ["issue_comment.edited"],
    handle: (ctx) => {
      const { w, repo: r } = ctx;
      const c = commentOr404(r, ctx.params["comment_id"]);
      const actor = actorLogin(ctx);
      if (c.user !== actor && !(ctx.principal.kind === "user" && w.roleOf(r, actor) !== "read")) {
        throw new HttpError(403, ctx.principal.kind === "installation" ? "Resource not accessible by integration" : "Must have triage access to edit this comment.");
      }
      const body = str(ctx.body, "body", true);
      const from = c.body;
      c.body = body;
      c.updatedAt = w.now();
      const i = issueOr404(r, String(c.issueNumber));
      emit(ctx, r, "issue_comment", actor, { action: "edited", changes: { body: { from } }, issue: renderIssue(w, r, i), comment: renderComment(w, r, c) });
      return json(200, renderComment(w, r, c));
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/issues/{issue_number}/reactions", auth: "repo", need: issuesWrite("read"),
    handle: (ctx) => addReaction(ctx, issueOr404(ctx.repo, ctx.params["issue_number"]).reactions),
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", auth: "repo", need: issuesWrite("read"),
    handle: (ctx) => {
      const c = commentOr404(ctx.repo, ctx.params["comment_id"]);
      const list = commentReactions.get(c) ?? [];
      commentReactions.set(c, list);
      return addReaction(ctx, list);
    },
  },
];
