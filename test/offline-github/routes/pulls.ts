// Pull requests, review requests, reviews and merging. Merging enforces branch protection as
// GitHub does: required checks, approving reviews from people with write access, code-owner review.
import type { Reply } from "../http.ts";
import { HttpError, paginate, validationFailed } from "../http.ts";
import type { Issue, PullData, Repo, Review } from "../model.ts";
import { fullName, roleAtLeast } from "../model.ts";
import { ownersOf, parseCodeowners } from "../codeowners.ts";
import type { PullShas } from "../render.ts";
import { renderPull, renderReview, simplePull } from "../render.ts";
import type { World } from "../world.ts";
import type { Ctx, Route } from "./context.ts";
import { actorLogin, emit, json, pullOr404, str } from "./context.ts";
import { createIssue } from "./issues.ts";
import { draftReviewComments, storeReviewComments } from "./review-comments.ts";
import { workflowsForPush } from "../workflows.ts";

type Pull = Issue & { pull: PullData };

export async function pullShas(w: World, r: Repo, i: Issue): Promise<PullShas> {
  const p = i.pull;
  if (!p) throw new Error("[offline-github] not a pull request");
  const head = p.frozenHeadSha ?? (await w.git.resolve(r.owner, r.name, `refs/heads/${p.head}`)) ?? "0".repeat(40);
  const base = (await w.git.resolve(r.owner, r.name, `refs/heads/${p.base}`)) ?? "0".repeat(40);
  const stats = await w.git.diffStats(r.owner, r.name, base, head);
  const mergeable = i.state === "open" ? await w.git.canMerge(r.owner, r.name, base, head) : null;
  const shas: PullShas = { head, base, stats, mergeable, blocked: false };
  // `mergeable_state: blocked` as GitHub shows it: the base branch's protection is not satisfied
  // (for anyone; an admin's bypass shows only when they merge).
  if (i.state === "open") shas.blocked = (await protectionBlockers(w, r, i as Pull, shas, null)).length > 0;
  return shas;
}

export async function pullPayload(w: World, r: Repo, i: Issue): Promise<Record<string, unknown>> {
  return renderPull(w, r, i, await pullShas(w, r, i));
}

const pullsRead = { permission: ["pull_requests", "read"] as [string, "read"] };
const pullsWrite = { permission: ["pull_requests", "write"] as [string, "write"], role: "read" as const };

/** Why GitHub would refuse to merge this pull request now, in GitHub's words; empty when it may merge. */
export async function mergeBlockers(w: World, r: Repo, i: Pull, actor: string): Promise<string[]> {
  return protectionBlockers(w, r, i, await pullShas(w, r, i), actor);
}

/** What the base branch's protection still wants; `actor` null means nobody's admin bypass applies. */
async function protectionBlockers(w: World, r: Repo, i: Pull, shas: PullShas, actor: string | null): Promise<string[]> {
  const p = i.pull;
  const protection = r.protection.get(p.base);
  if (!protection) return [];
  if (actor !== null && !protection.enforceAdmins && w.roleOf(r, actor) === "admin") return [];
  const out: string[] = [];
  const rsc = protection.requiredStatusChecks;
  if (rsc) {
    for (const context of rsc.contexts) {
      const pinned = rsc.apps?.[context];
      const runs = [...r.checkRuns.values()].filter((c) => c.name === context && c.headSha === shas.head && (pinned === undefined || c.appId === pinned)).sort((a, b) => b.id - a.id);
      const latest = runs[0];
      if (!latest) out.push(`Required status check "${context}" is expected.`);
      else if (latest.status !== "completed") out.push(`Required status check "${context}" is in progress.`);
      else if (!["success", "neutral", "skipped"].includes(latest.conclusion ?? "")) out.push(`Required status check "${context}" is failing.`);
    }
    if (rsc.strict && !(await w.git.isAncestor(r.owner, r.name, shas.base, shas.head))) out.push("Head branch is not up to date with the base branch.");
  }
  const rpr = protection.requiredPullRequestReviews;
  if (rpr) {
    const latest = new Map<string, Review>();
    for (const rv of [...r.reviews.values()].filter((x) => x.pullNumber === i.number).sort((a, b) => a.id - b.id)) {
      if (rv.state === "COMMENTED" || rv.state === "PENDING") continue;
      latest.set(rv.user, rv);
    }
    const qualified = [...latest.values()].filter((rv) => rv.user !== i.user && roleAtLeast(w.roleOf(r, rv.user), "write"));
    // `require_last_push_approval`: "the most recent reviewable push must be approved by someone
    // other than the person who pushed it" (GitHub's REST description of branch protection). The
    // last pusher's own approval does not count, and an approval given before the last push does not
    // approve it (GitHub support confirmed this reading: https://github.com/orgs/community/discussions/77578).
    // https://docs.github.com/en/repositories/configuring-branches-and-merges-in-your-repository/managing-protected-branches/about-protected-branches#require-pull-request-reviews-before-merging
    const lastPusher = rpr.requireLastPushApproval ? r.lastPushers.get(p.head) ?? null : null;
    const approvers = qualified.filter((rv) => rv.state === "APPROVED" && rv.user !== lastPusher).map((rv) => rv.user);
    if (qualified.some((rv) => rv.state === "CHANGES_REQUESTED")) out.push("Changes requested by a reviewer with write access.");
    const n = rpr.requiredApprovingReviewCount;
    if (approvers.length < n) out.push(`At least ${n} approving review${n === 1 ? " is" : "s are"} required by reviewers with write access.`);
    if (lastPusher !== null && !qualified.some((rv) => rv.state === "APPROVED" && rv.user !== lastPusher && rv.commitId === shas.head)) {
      out.push(`Approval of the most recent reviewable push is required from someone other than its pusher (${lastPusher}).`);
    }
    if (rpr.requireCodeOwnerReviews) {
      let text: string | null = null;
      for (const path of [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]) {
        text = await w.git.readFile(r.owner, r.name, shas.base, path);
        if (text !== null) break;
      }
      if (text !== null) {
        const rules = parseCodeowners(text);
        const waiting = new Set<string>();
        for (const file of await w.git.changedFiles(r.owner, r.name, shas.base, shas.head)) {
          const owners = ownersOf(rules, file);
          if (owners.length === 0) continue;
          const satisfied = owners.some((o) => approvers.some((a) => ownerIncludes(w, r, o, a)));
          if (!satisfied) owners.forEach((o) => waiting.add(o));
        }
        if (waiting.size > 0) out.push(`Waiting on code owner review from ${[...waiting].sort().join(", ")}.`);
      }
    }
  }
  return out;
}

function ownerIncludes(w: World, r: Repo, owner: string, login: string): boolean {
  const o = owner.replace(/^@/, "");
  if (!o.includes("/")) return o.toLowerCase() === login.toLowerCase();
  const [org, slug] = o.split("/") as [string, string];
  try {
    return w.team(org, slug).members.has(login);
  } catch {
    return false;
  }
}

async function mergePull(ctx: Ctx): Promise<Reply> {
  const { w, repo: r } = ctx;
  const i = pullOr404(r, ctx.params["pull_number"]);
  const actor = actorLogin(ctx);
  if (i.state !== "open" || i.pull.merged) throw new HttpError(405, "Pull Request is not mergeable");
  if (i.pull.draft) throw new HttpError(405, "Pull Request is still a draft");
  const shas = await pullShas(w, r, i);
  const sha = str(ctx.body, "sha");
  if (sha && sha !== shas.head) throw new HttpError(409, "Head branch was modified. Review and try the merge again.");
  const blockers = await mergeBlockers(w, r, i, actor);
  if (blockers.length > 0) throw new HttpError(405, blockers.join("\n"));
  const method = str(ctx.body, "merge_method") ?? "merge";
  if (method !== "merge" && method !== "squash") throw validationFailed(`Validation Failed: merge_method ${method} is not offered by the offline GitHub (merge and squash are).`);
  const account = w.account(actor);
  const author = { name: account.name ?? actor, email: account.email ?? `${actor}@users.noreply.offline-github.test` };
  const title = str(ctx.body, "commit_title") ?? (method === "squash" ? `${i.title} (#${i.number})` : `Merge pull request #${i.number} from ${r.owner}/${i.pull.head}`);
  const message = [title, str(ctx.body, "commit_message") ?? (method === "squash" ? "" : i.title)].filter(Boolean).join("\n\n");
  const merged = await w.git.mergeCommit(r.owner, r.name, shas.base, shas.head, message, author, w.now(), method === "squash");
  if (!merged) throw new HttpError(405, "Pull Request is not mergeable");
  await w.git.setRef(r.owner, r.name, `refs/heads/${i.pull.base}`, merged);
  // The merge is a push to the base branch by whoever merged: push workflows start from it.
  r.lastPushers.set(i.pull.base, actor);
  await workflowsForPush(w, r, [{ ref: `refs/heads/${i.pull.base}`, before: shas.base, after: merged }], actor);
  const now = w.now();
  Object.assign(i.pull, { merged: true, mergedAt: now, mergedBy: actor, mergeCommitSha: merged, frozenHeadSha: shas.head });
  Object.assign(i, { state: "closed", closedAt: now, updatedAt: now });
  r.pushedAt = now;
  emit(ctx, r, "pull_request", actor, { action: "closed", number: i.number, pull_request: await pullPayload(w, r, i) });
  return json(200, { sha: merged, merged: true, message: "Pull Request successfully merged" });
}

export const pullRoutes: Route[] = [
  {
    method: "GET", path: "/repos/{owner}/{repo}/pulls", auth: "repo", need: pullsRead,
    handle: async ({ w, repo: r, url }) => {
      const state = url.searchParams.get("state") ?? "open";
      const head = url.searchParams.get("head");
      const base = url.searchParams.get("base");
      const list = [...r.issues.values()].filter((i): i is Pull => i.pull !== null)
        .filter((i) => state === "all" || i.state === state)
        .filter((i) => !head || `${r.owner}:${i.pull.head}`.toLowerCase() === (head.includes(":") ? head : `${r.owner}:${head}`).toLowerCase())
        .filter((i) => !base || i.pull.base === base)
        .sort((a, b) => b.number - a.number);
      const { page, link } = paginate(url, list);
      const out = await Promise.all(page.map(async (i) => simplePull(await pullPayload(w, r, i))));
      return json(200, out, link ? { link } : undefined);
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/pulls", auth: "repo", need: pullsWrite, sends: ["pull_request.opened"],
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const title = str(ctx.body, "title", true);
      const headArg = str(ctx.body, "head", true);
      const head = headArg.includes(":") ? headArg.split(":")[1] ?? "" : headArg;
      const base = str(ctx.body, "base", true);
      const headSha = await w.git.resolve(r.owner, r.name, `refs/heads/${head}`);
      const baseSha = await w.git.resolve(r.owner, r.name, `refs/heads/${base}`);
      if (!headSha) throw validationFailed("Validation Failed", [{ resource: "PullRequest", field: "head", code: "invalid" }]);
      if (!baseSha) throw validationFailed("Validation Failed", [{ resource: "PullRequest", field: "base", code: "invalid" }]);
      const dup = [...r.issues.values()].find((i) => i.pull && i.state === "open" && i.pull.head === head && i.pull.base === base);
      if (dup) throw validationFailed("Validation Failed", [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${r.owner}:${head}.` }]);
      if (await w.git.isAncestor(r.owner, r.name, headSha, baseSha)) {
        throw validationFailed("Validation Failed", [{ resource: "PullRequest", code: "custom", message: `No commits between ${base} and ${head}` }]);
      }
      const i = createIssue(w, r, { title, body: str(ctx.body, "body") ?? null, user: actorLogin(ctx), viaApp: ctx.principal.kind === "installation" });
      i.pull = {
        id: w.nextId(), head, base, draft: ctx.body["draft"] === true, merged: false, mergedAt: null, mergedBy: null, mergeCommitSha: null,
        frozenHeadSha: null, requestedReviewers: new Set(), requestedTeams: new Set(), maintainerCanModify: ctx.body["maintainer_can_modify"] !== false,
      };
      const payload = await pullPayload(w, r, i);
      emit(ctx, r, "pull_request", i.user, { action: "opened", number: i.number, pull_request: payload });
      return json(201, payload, { location: `${w.apiUrl}/repos/${fullName(r)}/pulls/${i.number}` });
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/pulls/{pull_number}", auth: "repo", need: pullsRead,
    handle: async ({ w, repo: r, params }) => json(200, await pullPayload(w, r, pullOr404(r, params["pull_number"]))),
  },
  {
    method: "PATCH", path: "/repos/{owner}/{repo}/pulls/{pull_number}", auth: "repo", need: pullsWrite,
    sends: ["pull_request.edited", "pull_request.closed", "pull_request.reopened"],
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const i = pullOr404(r, ctx.params["pull_number"]);
      const actor = actorLogin(ctx);
      if (ctx.principal.kind === "user" && i.user !== actor && !roleAtLeast(w.roleOf(r, actor), "write")) throw new HttpError(403, "Must have write access to edit this pull request.");
      const changes: Record<string, { from: unknown }> = {};
      const title = str(ctx.body, "title");
      if (title !== undefined && title !== i.title) { changes["title"] = { from: i.title }; i.title = title; }
      if ("body" in ctx.body) { const b = str(ctx.body, "body") ?? null; if (b !== i.body) { changes["body"] = { from: i.body }; i.body = b; } }
      const base = str(ctx.body, "base");
      if (base !== undefined && base !== i.pull.base) {
        if (!(await w.git.resolve(r.owner, r.name, `refs/heads/${base}`))) throw validationFailed("Validation Failed", [{ resource: "PullRequest", field: "base", code: "invalid" }]);
        changes["base"] = { from: { ref: i.pull.base, sha: (await pullShas(w, r, i)).base } };
        i.pull.base = base;
      }
      i.updatedAt = w.now();
      if (Object.keys(changes).length > 0) emit(ctx, r, "pull_request", actor, { action: "edited", number: i.number, changes, pull_request: await pullPayload(w, r, i) });
      const state = str(ctx.body, "state");
      if (state !== undefined && state !== "open" && state !== "closed") throw validationFailed("Validation Failed", [{ resource: "PullRequest", field: "state", code: "invalid" }]);
      if (state && state !== i.state && !i.pull.merged) {
        if (state === "closed") i.pull.frozenHeadSha = (await pullShas(w, r, i)).head;
        else i.pull.frozenHeadSha = null;
        i.state = state;
        i.closedAt = state === "closed" ? w.now() : null;
        emit(ctx, r, "pull_request", actor, { action: state === "closed" ? "closed" : "reopened", number: i.number, pull_request: await pullPayload(w, r, i) });
      }
      return json(200, await pullPayload(w, r, i));
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers", auth: "repo", need: pullsWrite,
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const i = pullOr404(r, ctx.params["pull_number"]);
      const users = Array.isArray(ctx.body["reviewers"]) ? (ctx.body["reviewers"] as unknown[]).map(String) : [];
      const teams = Array.isArray(ctx.body["team_reviewers"]) ? (ctx.body["team_reviewers"] as unknown[]).map(String) : [];
      for (const u of users) {
        if (u.toLowerCase() === i.user.toLowerCase()) throw validationFailed("Review cannot be requested from pull request author.");
        if (!w.findAccount(u) || !roleAtLeast(w.roleOf(r, u), "read") || (!r.private && !r.collaborators.has(u) && w.roleOf(r, u) === "read" && !w.orgs.get(r.owner)?.members.has(u))) {
          throw validationFailed(`Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${fullName(r)} repository.`);
        }
      }
      for (const t of teams) w.team(r.owner, t);
      users.forEach((u) => i.pull.requestedReviewers.add(w.account(u).login));
      teams.forEach((t) => i.pull.requestedTeams.add(t));
      return json(201, simplePull(await pullPayload(w, r, i)));
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", auth: "repo", need: pullsRead,
    handle: ({ w, repo: r, params, url }) => {
      const i = pullOr404(r, params["pull_number"]);
      const all = [...r.reviews.values()].filter((rv) => rv.pullNumber === i.number).sort((a, b) => a.id - b.id);
      const { page, link } = paginate(url, all);
      return json(200, page.map((rv) => renderReview(w, r, rv)), link ? { link } : undefined);
    },
  },
  {
    method: "POST", path: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", auth: "repo", need: pullsWrite,
    sends: ["pull_request_review.submitted", "pull_request_review_comment.created"],
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const i = pullOr404(r, ctx.params["pull_number"]);
      const actor = actorLogin(ctx);
      const event = str(ctx.body, "event");
      const body = str(ctx.body, "body") ?? "";
      const state = event === "APPROVE" ? "APPROVED" : event === "REQUEST_CHANGES" ? "CHANGES_REQUESTED" : event === "COMMENT" ? "COMMENTED" : undefined;
      if (!state) throw validationFailed("Unprocessable Entity: a review needs an event of APPROVE, REQUEST_CHANGES or COMMENT (pending reviews are not offered by the offline GitHub).");
      if (i.state !== "open") throw validationFailed("Unprocessable Entity: the pull request is closed.");
      // This endpoint's 422 is GitHub's `validation-error-simple`: `errors` holds plain strings.
      if (actor === i.user && state === "APPROVED") throw validationFailed("Unprocessable Entity", ["Can not approve your own pull request"]);
      if (actor === i.user && state === "CHANGES_REQUESTED") throw validationFailed("Unprocessable Entity", ["Can not request changes on your own pull request"]);
      if (state !== "APPROVED" && body.trim() === "") throw validationFailed("Unprocessable Entity", [`Body is required when using the ${event ?? ""} event.`]);
      const shas = await pullShas(w, r, i);
      const commitId = str(ctx.body, "commit_id") ?? shas.head;
      // Inline comments are checked before anything is stored: one that cannot be placed refuses the whole review.
      const drafts = await draftReviewComments(w, r, shas.base, commitId, ctx.body["comments"]);
      const rv: Review = { id: w.nextId(), pullNumber: i.number, user: actor, state, body, commitId, submittedAt: w.now() };
      r.reviews.set(rv.id, rv);
      i.pull.requestedReviewers.delete(actor);
      const pr = simplePull(renderPull(w, r, i, shas));
      emit(ctx, r, "pull_request_review", actor, { action: "submitted", review: { ...renderReview(w, r, rv), state: state.toLowerCase() }, pull_request: pr });
      storeReviewComments(ctx, r, i, rv, drafts, pr);
      return json(200, renderReview(w, r, rv));
    },
  },
  {
    method: "PUT", path: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/dismissals", auth: "repo",
    need: { permission: ["pull_requests", "write"], role: "write" }, sends: ["pull_request_review.dismissed"],
    handle: async (ctx) => {
      const { w, repo: r } = ctx;
      const i = pullOr404(r, ctx.params["pull_number"]);
      const rv = r.reviews.get(Number(ctx.params["review_id"]));
      if (!rv || rv.pullNumber !== i.number) throw new HttpError(404, "Not Found");
      str(ctx.body, "message", true);
      if (rv.state !== "APPROVED" && rv.state !== "CHANGES_REQUESTED") throw validationFailed("Validation Failed", ["Can not dismiss a " + rv.state.toLowerCase().replace("_", " ") + " pull request review"]);
      rv.state = "DISMISSED";
      const shas = await pullShas(w, r, i);
      emit(ctx, r, "pull_request_review", actorLogin(ctx), { action: "dismissed", review: { ...renderReview(w, r, rv), state: "dismissed" }, pull_request: simplePull(renderPull(w, r, i, shas)) });
      return json(200, renderReview(w, r, rv));
    },
  },
  {
    method: "PUT", path: "/repos/{owner}/{repo}/pulls/{pull_number}/merge", auth: "repo",
    need: { permission: ["contents", "write"], role: "write" }, sends: ["pull_request.closed"], handle: mergePull,
  },
];
