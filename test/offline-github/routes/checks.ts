// Check runs: created and updated by apps only (as on GitHub), listed per commit.
import { HttpError, paginate, validationFailed } from "../http.ts";
import type { CheckRun, Repo } from "../model.ts";
import { fullName } from "../model.ts";
import { renderCheckRun } from "../render.ts";
import type { Ctx, Route } from "./context.ts";
import { json, str } from "./context.ts";

const statuses = ["queued", "in_progress", "completed", "waiting", "requested", "pending"] as const;
const conclusions = ["success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"] as const;

function onlyApps(ctx: Ctx): void {
  if (ctx.principal.kind !== "installation") throw new HttpError(403, "You must authenticate via a GitHub App.");
}

function applyFields(ctx: Ctx, c: CheckRun): void {
  const b = ctx.body;
  const status = str(b, "status");
  const conclusion = str(b, "conclusion");
  if (status !== undefined && !(statuses as readonly string[]).includes(status)) throw validationFailed("Validation Failed", [{ resource: "CheckRun", field: "status", code: "invalid" }]);
  if (conclusion !== undefined && !(conclusions as readonly string[]).includes(conclusion)) throw validationFailed("Validation Failed", [{ resource: "CheckRun", field: "conclusion", code: "invalid" }]);
  if (status === "completed" && conclusion === undefined && c.conclusion === null) {
    throw validationFailed("Invalid request.\n\nNo subschema in \"anyOf\" matched.\n\"conclusion\" wasn't supplied.");
  }
  if (str(b, "name") !== undefined) c.name = str(b, "name") ?? c.name;
  if (str(b, "external_id") !== undefined) c.externalId = str(b, "external_id") ?? "";
  if (str(b, "details_url") !== undefined) c.detailsUrl = str(b, "details_url") ?? null;
  if (str(b, "started_at") !== undefined) c.startedAt = new Date(str(b, "started_at") ?? "");
  if (status !== undefined) {
    c.status = status as CheckRun["status"];
    if (status === "in_progress" && !c.startedAt) c.startedAt = ctx.w.now();
  }
  if (conclusion !== undefined) {
    c.conclusion = conclusion as CheckRun["conclusion"];
    c.status = "completed";
  }
  if (c.status === "completed") c.completedAt = str(b, "completed_at") ? new Date(str(b, "completed_at") ?? "") : c.completedAt ?? ctx.w.now();
  else { c.conclusion = null; c.completedAt = null; }
  const output = b["output"];
  if (output !== undefined) {
    if (typeof output !== "object" || output === null) throw validationFailed("Invalid request.\n\n`output` must be an object.");
    const o = output as Record<string, unknown>;
    const title = str(o, "title");
    const summary = str(o, "summary");
    if (title === undefined || summary === undefined) throw validationFailed("Invalid request.\n\n\"title\" and \"summary\" weren't supplied.");
    if (summary.length > 65535) throw validationFailed("Invalid request.\n\nOnly 65535 characters are allowed; 'summary' is too long.");
    c.output = { title, summary, text: str(o, "text") ?? null };
  }
}

function checkRunOr404(r: Repo, id: string | undefined): CheckRun {
  const c = r.checkRuns.get(Number(id));
  if (!c) throw new HttpError(404, "Not Found");
  return c;
}

export const checkRoutes: Route[] = [
  {
    method: "POST", path: "/repos/{owner}/{repo}/check-runs", auth: "repo", need: { permission: ["checks", "write"] },
    handle: async (ctx) => {
      onlyApps(ctx);
      const { w, repo: r } = ctx;
      const headSha = str(ctx.body, "head_sha", true);
      const name = str(ctx.body, "name", true);
      const sha = await w.git.resolve(r.owner, r.name, headSha);
      if (!sha) throw validationFailed("Validation Failed", [{ resource: "CheckRun", code: "invalid", field: "head_sha", message: `No commit found for SHA: ${headSha}` }]);
      const c: CheckRun = {
        id: w.nextId(), name, headSha: sha, status: "queued", conclusion: null, startedAt: w.now(), completedAt: null, externalId: "",
        detailsUrl: null, output: { title: null, summary: null, text: null }, appId: w.app.id, checkSuiteId: w.nextId(),
      };
      applyFields(ctx, c);
      r.checkRuns.set(c.id, c);
      return json(201, renderCheckRun(w, r, c), { location: `${w.apiUrl}/repos/${fullName(r)}/check-runs/${c.id}` });
    },
  },
  {
    method: "PATCH", path: "/repos/{owner}/{repo}/check-runs/{check_run_id}", auth: "repo", need: { permission: ["checks", "write"] },
    handle: (ctx) => {
      onlyApps(ctx);
      const c = checkRunOr404(ctx.repo, ctx.params["check_run_id"]);
      if (c.appId !== ctx.w.app.id) throw new HttpError(403, "Invalid app_id `" + String(ctx.w.app.id) + "` - check run can only be modified by the GitHub App that created it.");
      applyFields(ctx, c);
      return json(200, renderCheckRun(ctx.w, ctx.repo, c));
    },
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/check-runs/{check_run_id}", auth: "repo", need: { permission: ["checks", "read"] },
    handle: (ctx) => json(200, renderCheckRun(ctx.w, ctx.repo, checkRunOr404(ctx.repo, ctx.params["check_run_id"]))),
  },
  {
    method: "GET", path: "/repos/{owner}/{repo}/commits/{ref}/check-runs", auth: "repo", need: { permission: ["checks", "read"] },
    handle: async ({ w, repo: r, params, url }) => {
      const sha = await w.git.resolve(r.owner, r.name, params["ref"] ?? "");
      if (!sha) throw validationFailed(`No commit found for SHA: ${params["ref"] ?? ""}`);
      const name = url.searchParams.get("check_name");
      const status = url.searchParams.get("status");
      const filter = url.searchParams.get("filter") ?? "latest";
      let runs = [...r.checkRuns.values()].filter((c) => c.headSha === sha && (!name || c.name === name) && (!status || c.status === status))
        .sort((a, b) => b.id - a.id);
      if (filter === "latest") runs = runs.filter((c, i) => runs.findIndex((x) => x.name === c.name) === i);
      const { page, link } = paginate(url, runs);
      return json(200, { total_count: runs.length, check_runs: page.map((c) => renderCheckRun(w, r, c)) }, link ? { link } : undefined);
    },
  },
];
