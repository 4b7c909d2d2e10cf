// What every route handler gets, and the helpers they share.
import type { Principal, RepoNeed } from "../auth.ts";
import type { Reply } from "../http.ts";
import { HttpError, validationFailed } from "../http.ts";
import type { Issue, Repo } from "../model.ts";
import { renderOrganization, renderRepo, renderUser } from "../render.ts";
import type { WebhookSender } from "../webhooks.ts";
import type { World } from "../world.ts";
import { workflowsForPullRequest } from "../workflows.ts";

export interface Ctx {
  w: World;
  hooks: WebhookSender;
  principal: Principal;
  params: Record<string, string>;
  url: URL;
  /** The JSON body when it is an object, else {}. */
  body: Record<string, unknown>;
  /** The JSON body as sent (some endpoints take a bare array). */
  rawBody: unknown;
  accept: string;
  /** Set for routes with `repo`: the repository the path names, access already checked. */
  repo: Repo;
}

export interface Route {
  method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE";
  /** The path template exactly as in GitHub's OpenAPI description. */
  path: string;
  /** `app`: the app's JWT; `token`: an installation or user token; `repo`: a token with `need` on the repository in the path; `none`: no credentials asked for. */
  auth: "app" | "token" | "repo" | "none";
  need?: RepoNeed | ((params: Record<string, string>, repo: Repo | undefined) => RepoNeed);
  /** Webhook events (`event.action`) this route may send, so the fidelity test can cover them. */
  sends?: string[];
  handle(ctx: Ctx): Promise<Reply> | Reply;
}

/** The login that GitHub would show as the author of what the caller does. */
export function actorLogin(ctx: Ctx): string {
  const p = ctx.principal;
  if (p.kind === "installation") return ctx.w.botLogin;
  if (p.kind === "user") return p.login;
  throw new HttpError(401, "Requires authentication");
}

export function viaApp(ctx: Ctx): boolean {
  return ctx.principal.kind === "installation";
}

export function emit(ctx: Pick<Ctx, "w" | "hooks">, r: Repo, event: string, sender: string, payload: Record<string, unknown>): void {
  // A pull request event also starts the repository's Actions workflows, installed app or not.
  const pull = event === "pull_request" ? r.issues.get(Number(payload["number"])) : undefined;
  if (pull && typeof payload["action"] === "string") ctx.w.track(workflowsForPullRequest(ctx.w, r, pull, payload["action"], sender));
  const inst = ctx.w.installationFor(r.owner);
  if (!inst || !ctx.w.installationCovers(inst, r) || !inst.events.includes(event)) return;
  const full: Record<string, unknown> = { ...payload, repository: renderRepo(ctx.w, r), sender: renderUser(ctx.w, ctx.w.account(sender)) };
  const owner = ctx.w.account(r.owner);
  if (owner.type === "Organization") full["organization"] = renderOrganization(ctx.w, owner);
  full["installation"] = { id: inst.id, node_id: Buffer.from(`Installation:${inst.id}`).toString("base64url") };
  ctx.hooks.send(event, full, inst.id);
}

export function str(body: Record<string, unknown>, key: string, required: true): string;
export function str(body: Record<string, unknown>, key: string, required?: false): string | undefined;
export function str(body: Record<string, unknown>, key: string, required = false): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw validationFailed("Invalid request.", [{ resource: "Body", field: key, code: "missing_field" }]);
    return undefined;
  }
  if (typeof v !== "string") throw validationFailed(`Invalid request.\n\nFor '${key}', ${JSON.stringify(v)} is not a string.`);
  return v;
}

export function issueOr404(r: Repo, n: string | undefined): Issue {
  const i = r.issues.get(Number(n));
  if (!i) throw new HttpError(404, "Not Found");
  return i;
}

export function pullOr404(r: Repo, n: string | undefined): Issue & { pull: NonNullable<Issue["pull"]> } {
  const i = r.issues.get(Number(n));
  if (!i?.pull) throw new HttpError(404, "Not Found");
  return i as Issue & { pull: NonNullable<Issue["pull"]> };
}

export const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({ status, body, headers });
export const noContent = (): Reply => ({ status: 204 });
