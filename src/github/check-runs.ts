// Bosun's check runs, found again by external_id (the run id and the check's name) before one
// is created, so a repeated step updates rather than duplicates.
import type { GitHubClient } from "./tokens.ts";

export const checkNames = { tests: "bosun", independentReview: "bosun/independent-review" } as const;

export interface CheckFields {
  status: "queued" | "in_progress" | "completed";
  conclusion?: "success" | "failure" | "neutral" | "cancelled" | "action_required";
  title: string;
  summary: string;
  text?: string;
  detailsUrl?: string;
}

export async function upsertCheckRun(octokit: GitHubClient, o: { owner: string; repo: string; headSha: string; name: string; externalId: string; knownId: number | null; fields: CheckFields }): Promise<number> {
  const output = { title: o.fields.title, summary: o.fields.summary.slice(0, 65000), ...(o.fields.text ? { text: o.fields.text.slice(0, 65000) } : {}) };
  const common = {
    owner: o.owner, repo: o.repo, name: o.name, external_id: o.externalId, status: o.fields.status, output,
    ...(o.fields.conclusion ? { conclusion: o.fields.conclusion } : {}),
    ...(o.fields.detailsUrl ? { details_url: o.fields.detailsUrl } : {}),
  };
  let id = o.knownId;
  if (id === null) {
    const list = await octokit.rest.checks.listForRef({ owner: o.owner, repo: o.repo, ref: o.headSha, check_name: o.name, filter: "all", per_page: 100 });
    id = list.data.check_runs.find((c) => c.external_id === o.externalId)?.id ?? null;
  }
  if (id !== null) {
    await octokit.rest.checks.update({ ...common, check_run_id: id });
    return id;
  }
  const created = await octokit.rest.checks.create({ ...common, head_sha: o.headSha });
  return created.data.id;
}
