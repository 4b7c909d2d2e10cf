// Pull request review comments: inline comments on a pull request's diff. They are made with a
// review (`comments` of POST …/reviews) or as a reply in a comment's thread, and read back per
// review or per pull request. Paths and lines are checked against the pull request's diff as
// GitHub checks them: a comment must sit on a line of one of the file's hunks.
import type { Reply } from "../http.ts";
import { HttpError, paginate, validationFailed } from "../http.ts";
import type { Issue, PullData, Repo, Review, ReviewComment } from "../model.ts";
import { fullName } from "../model.ts";
import { renderPull, renderReview, renderReviewComment, simplePull } from "../render.ts";
import type { World } from "../world.ts";
import type { Ctx, Route } from "./context.ts";
import { actorLogin, emit, json, pullOr404, str } from "./context.ts";
import { pullShas } from "./pulls.ts";

type Side = "LEFT" | "RIGHT";

/** One line of a file's diff, numbered as GitHub's `position` counts them. */
interface DiffLine {
  position: number;
  kind: "@" | " " | "+" | "-";
  text: string;
  hunk: number;
  oldLine: number | null;
  newLine: number | null;
}

/** The lines of one file's unified diff from its first `@@` header (position 0) on. */
export function parseFileDiff(diff: string): DiffLine[] {
  const out: DiffLine[] = [];
  let position = -1;
  let hunk = -1;
  let oldLine = 0;
  let newLine = 0;
  for (const text of diff.split("\n")) {
    const header = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(text);
    if (header) {
      hunk++;
      position++;
      oldLine = Number(header[1]);
      newLine = Number(header[2]);
      out.push({ position, kind: "@", text, hunk, oldLine: null, newLine: null });
      continue;
    }
    // Before the first hunk: the file's `diff --git`, `index`, `---` and `+++` lines.
    if (hunk < 0) continue;
    const kind = text[0];
    if (kind === " ") out.push({ position: ++position, kind, text, hunk, oldLine: oldLine++, newLine: newLine++ });
    else if (kind === "+") out.push({ position: ++position, kind, text, hunk, oldLine: null, newLine: newLine++ });
    else if (kind === "-") out.push({ position: ++position, kind, text, hunk, oldLine: oldLine++, newLine: null });
    // `\ No newline at end of file` and the final empty string are not lines of the diff view.
  }
  return out;
}

function lineOn(lines: DiffLine[], side: Side, line: number): DiffLine | undefined {
  return lines.find((l) => l.kind !== "@" && (side === "RIGHT" ? l.newLine : l.oldLine) === line);
}

/** This endpoint's 422 is GitHub's `validation-error-simple`: `errors` holds plain strings. */
const unprocessable = (error: string): HttpError => validationFailed("Unprocessable Entity", [error]);

function invalid(detail: string): HttpError {
  return validationFailed(`Invalid request.\n\n${detail}`, []);
}

export type CommentDraft = Omit<ReviewComment, "id" | "reviewId" | "pullNumber" | "user" | "createdAt" | "updatedAt" | "inReplyTo">;

/**
 * The `comments` of a new review, checked against the pull request's diff at `commit`. Throws
 * GitHub's 422 for the first comment that cannot be placed; nothing is stored then, as on GitHub.
 */
export async function draftReviewComments(w: World, r: Repo, base: string, commit: string, raw: unknown): Promise<CommentDraft[]> {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalid(`For 'properties/comments', ${JSON.stringify(raw)} is not an array.`);
  const out: CommentDraft[] = [];
  for (const item of raw as unknown[]) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) throw invalid(`For 'items', ${JSON.stringify(item)} is not an object.`);
    const c = item as Record<string, unknown>;
    for (const key of ["path", "body"]) {
      if (c[key] === undefined || c[key] === null) throw invalid(`"${key}" wasn't supplied.`);
      if (typeof c[key] !== "string") throw invalid(`For 'properties/${key}', ${JSON.stringify(c[key])} is not a string.`);
    }
    for (const key of ["line", "position", "start_line"]) {
      if (c[key] !== undefined && c[key] !== null && !Number.isInteger(c[key])) throw invalid(`For 'properties/${key}', ${JSON.stringify(c[key])} is not an integer.`);
    }
    for (const key of ["side", "start_side"]) {
      if (c[key] !== undefined && c[key] !== null && c[key] !== "LEFT" && c[key] !== "RIGHT") throw invalid(`For 'properties/${key}', ${JSON.stringify(c[key])} is not one of LEFT and RIGHT.`);
    }
    const path = c["path"] as string;
    const diff = await w.git.fileDiff(r.owner, r.name, base, commit, path);
    if (diff === null) throw unprocessable("Path could not be resolved");
    const lines = parseFileDiff(diff);
    let end: DiffLine | undefined;
    let side: Side;
    if (typeof c["line"] === "number") {
      side = (c["side"] as Side | undefined) ?? "RIGHT";
      end = lineOn(lines, side, c["line"]);
    } else if (typeof c["position"] === "number") {
      end = lines.find((l) => l.position === c["position"] && l.kind !== "@");
      side = end?.kind === "-" ? "LEFT" : "RIGHT";
    } else {
      side = "RIGHT";
    }
    if (!end) throw unprocessable("Line could not be resolved");
    let startLine: number | null = null;
    let startSide: Side | null = null;
    if (typeof c["start_line"] === "number") {
      startSide = (c["start_side"] as Side | undefined) ?? side;
      const start = lineOn(lines, startSide, c["start_line"]);
      if (!start || start.hunk !== end.hunk) throw unprocessable("Pull request review thread start line must be part of the same hunk as the line.");
      if (start.position >= end.position) throw unprocessable("Pull request review thread start line must precede the end line.");
      startLine = c["start_line"];
    }
    const hunk = lines.filter((l) => l.hunk === end.hunk && l.position <= end.position).map((l) => l.text).join("\n");
    out.push({
      body: c["body"] as string, path, commitId: commit, originalCommitId: commit,
      line: (side === "RIGHT" ? end.newLine : end.oldLine) ?? 0, side, startLine, startSide,
      position: end.position, diffHunk: hunk,
    });
  }
  return out;
}

/** Stores drafted comments under a review and tells the app of each. */
export function storeReviewComments(ctx: Pick<Ctx, "w" | "hooks">, r: Repo, i: Issue & { pull: PullData }, rv: Review, drafts: CommentDraft[], pr: Record<string, unknown>, inReplyTo: number | null = null): ReviewComment[] {
  return drafts.map((d) => {
    const c: ReviewComment = { ...d, id: ctx.w.nextId(), pullNumber: i.number, reviewId: rv.id, user: rv.user, inReplyTo, createdAt: rv.submittedAt, updatedAt: rv.submittedAt };
    r.reviewComments.set(c.id, c);
    emit(ctx, r, "pull_request_review_comment", rv.user, { action: "created", comment: renderReviewComment(ctx.w, r, c), pull_request: pr });
    return c;
  });
}

const pullsRead = { permission: ["pull_requests", "read"] as [string, "read"] };
const pullsWrite = { permission: ["pull_requests", "write"] as [string, "write"], role: "read" as const };

async function reply(ctx: Ctx): Promise<Reply> {
  const { w, repo: r } = ctx;
  const i = pullOr404(r, ctx.params["pull_number"]);
  const parent = r.reviewComments.get(Number(ctx.params["comment_id"]));
  // "This must be the ID of a top-level review comment, not a reply to that comment. Replies to
  // replies are not supported." The endpoint documents no 422, so a reply's id is not found.
  if (!parent || parent.pullNumber !== i.number || parent.inReplyTo !== null) throw new HttpError(404, "Not Found");
  const body = str(ctx.body, "body", true);
  const actor = actorLogin(ctx);
  // GitHub files a reply under a review of its own (state COMMENTED, empty body) and says so with
  // `pull_request_review.submitted` as well.
  const rv: Review = { id: w.nextId(), pullNumber: i.number, user: actor, state: "COMMENTED", body: "", commitId: parent.commitId, submittedAt: w.now() };
  r.reviews.set(rv.id, rv);
  const pr = simplePull(renderPull(w, r, i, await pullShas(w, r, i)));
  // The reply sits where its thread does.
  const place: CommentDraft = {
    body, path: parent.path, commitId: parent.commitId, originalCommitId: parent.originalCommitId, line: parent.line, side: parent.side,
    startLine: parent.startLine, startSide: parent.startSide, position: parent.position, diffHunk: parent.diffHunk,
  };
  const [c] = storeReviewComments(ctx, r, i, rv, [place], pr, parent.id);
  if (!c) throw new Error("[offline-github] the reply was not stored");
  emit(ctx, r, "pull_request_review", actor, { action: "submitted", review: { ...renderReview(w, r, rv), state: "commented" }, pull_request: pr });
  return json(201, renderReviewComment(w, r, c), { location: `${w.apiUrl}/repos/${fullName(r)}/pulls/comments/${c.id}` });
}

export const reviewCommentRoutes: Route[] = [
  {
    method: "GET", path: "/repos/{owner}/{repo}/pulls/{pull_number}/comments", auth: "repo", need: pullsRead,
    handle: ({ w, repo: r, params, url }) => {
      const i = pullOr404(r, params["pull_number"]);
      const sort = url.searchParams.get("sort");
      const desc = sort !== null && url.searchParams.get("direction") === "desc";
      const since = url.searchParams.get("since");
      const sinceMs = since ? Date.parse(since) : NaN;
      const key = (c: ReviewComment): number => (sort === "updated" ? c.updatedAt.getTime() : sort === "created" ? c.createdAt.getTime() : c.id);
      const all = [...r.reviewComments.values()]
        .filter((c) => c.pullNumber === i.number && (Number.isNaN(sinceMs) || c.updatedAt.getTime() >= sinceMs))
        .sort((a, b) => (key(a) - key(b) || a.id - b.id) * (desc ? -1 : 1));
      const { page, link } = paginate(url, all);
      return json(200, page.map((c) => renderReviewComment(w, r, c)), link ? { link } : undefined);
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/comments", auth: "repo", need: pullsRead,
    handle: ({ w, repo: r, params, url }) => {
      const i = pullOr404(r, params["pull_number"]);
      const rv = r.reviews.get(Number(params["review_id"]));
      if (!rv || rv.pullNumber !== i.number) throw new HttpError(404, "Not Found");
      const all = [...r.reviewComments.values()].filter((c) => c.reviewId === rv.id).sort((a, b) => a.id - b.id);
      const { page, link } = paginate(url, all);
      return json(200, page.map((c) => renderReviewComment(w, r, c)), link ? { link } : undefined);
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/pulls/{pull_number}/comments/{comment_id}/replies", auth: "repo", need: pullsWrite,
    sends: ["pull_request_review_comment.created", "pull_request_review.submitted"], handle: reply,
  },
];
