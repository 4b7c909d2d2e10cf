// GitHub's GraphQL API, for what REST cannot do: a draft pull request becomes ready for review
// (and back) only through GraphQL. Every query is parsed and validated against GitHub's published
// schema (@octokit/graphql-schema) and executed by graphql-js, so an answer has exactly the shape
// the query asks for. Only the mutations Bosun uses have resolvers; anything else is answered
// with GitHub's error for an unresolved field.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSchema, execute, GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from "graphql";
import { checkRepoAccess } from "../auth.ts";
import { HttpError } from "../http.ts";
import type { Issue, Repo } from "../model.ts";
import type { Ctx, Route } from "./context.ts";
import { actorLogin, emit, json } from "./context.ts";
import { pullPayload } from "./pulls.ts";

let githubSchema: GraphQLSchema | undefined;

/** GitHub's public schema, built once (about a second). */
export function graphqlSchema(): GraphQLSchema {
  if (!githubSchema) {
    const entry = fileURLToPath(import.meta.resolve("@octokit/graphql-schema"));
    githubSchema = buildSchema(readFileSync(join(dirname(entry), "schema.graphql"), "utf8"), { assumeValidSDL: true });
  }
  return githubSchema;
}

/** GitHub's errors carry a `type` next to the message. */
function githubError(type: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { type } });
}

function pullByNodeId(ctx: Ctx, id: unknown): { repo: Repo; issue: Issue } {
  const decoded = typeof id === "string" ? Buffer.from(id, "base64url").toString("utf8") : "";
  const m = /^PullRequest:(\d+)$/.exec(decoded);
  for (const repo of m ? ctx.w.repos.values() : []) {
    for (const issue of repo.issues.values()) if (issue.pull && issue.pull.id === Number(m?.[1])) return { repo, issue };
  }
  throw githubError("NOT_FOUND", `Could not resolve to a node with the global id of '${String(id)}'`);
}

function pullRequestNode(ctx: Ctx, r: Repo, i: Issue): Record<string, unknown> {
  const p = i.pull;
  if (!p) throw new Error("[offline-github] not a pull request");
  return {
    id: Buffer.from(`PullRequest:${p.id}`).toString("base64url"), number: i.number, title: i.title, isDraft: p.draft,
    state: p.merged ? "MERGED" : i.state === "open" ? "OPEN" : "CLOSED", headRefName: p.head, baseRefName: p.base,
    url: `${ctx.w.webUrl}/${r.owner}/${r.name}/pull/${i.number}`,
  };
}

/** Marks a pull request draft or ready, as the caller, with GitHub's webhook. */
async function setDraft(ctx: Ctx, input: Record<string, unknown>, draft: boolean): Promise<Record<string, unknown>> {
  const { repo, issue } = pullByNodeId(ctx, input["pullRequestId"]);
  try {
    checkRepoAccess(ctx.w, ctx.principal, repo, { permission: ["pull_requests", "write"] });
  } catch (e) {
    if (e instanceof HttpError && e.status === 404) throw githubError("NOT_FOUND", `Could not resolve to a node with the global id of '${String(input["pullRequestId"])}'`);
    if (e instanceof HttpError) throw githubError("FORBIDDEN", e.message);
    throw e;
  }
  const pull = issue.pull;
  if (!pull) throw githubError("NOT_FOUND", "not a pull request");
  if (issue.state !== "open") throw githubError("UNPROCESSABLE", "Pull request is closed");
  if (pull.draft !== draft) {
    pull.draft = draft;
    issue.updatedAt = ctx.w.now();
    emit(ctx, repo, "pull_request", actorLogin(ctx), { action: draft ? "converted_to_draft" : "ready_for_review", number: issue.number, pull_request: await pullPayload(ctx.w, repo, issue) });
  }
  return { clientMutationId: input["clientMutationId"] ?? null, pullRequest: pullRequestNode(ctx, repo, issue) };
}

async function answer(ctx: Ctx): Promise<Record<string, unknown>> {
  const query = ctx.body["query"];
  if (typeof query !== "string") throw new HttpError(400, "A query attribute must be specified and must be a string.");
  let document: DocumentNode;
  try {
    document = parse(query);
  } catch (e) {
    return { errors: [{ message: (e as GraphQLError).message, locations: (e as GraphQLError).locations ?? [] }] };
  }
  const problems = validate(graphqlSchema(), document);
  if (problems.length) return { errors: problems.map((p) => ({ message: p.message, locations: p.locations ?? [] })) };
  const rootValue = {
    markPullRequestReadyForReview: ({ input }: { input: Record<string, unknown> }) => setDraft(ctx, input, false),
    convertPullRequestToDraft: ({ input }: { input: Record<string, unknown> }) => setDraft(ctx, input, true),
  };
  const variables = ctx.body["variables"];
  const result = await execute({
    schema: graphqlSchema(), document, rootValue,
    variableValues: typeof variables === "object" && variables !== null ? (variables as Record<string, unknown>) : {},
  });
  const out: Record<string, unknown> = { data: result.data ?? null };
  if (result.errors?.length) {
    out["errors"] = result.errors.map((e) => ({ type: (e.extensions["type"] as string | undefined) ?? "INTERNAL", path: e.path, locations: e.locations ?? [], message: e.message }));
  }
  return out;
}

export const graphqlRoutes: Route[] = [
  {
    method: "POST", path: "/graphql", auth: "token",
    sends: ["pull_request.ready_for_review", "pull_request.converted_to_draft"],
    handle: async (ctx) => json(200, await answer(ctx)),
  },
];
