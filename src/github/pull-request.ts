// The agent's pull request: looked up by its head branch before one is created, so a repeated
// publish step updates the same pull request.
import type { Run } from "../runs/run.ts";
import { fence, neutralize } from "./markdown.ts";
import type { GitHubClient } from "./tokens.ts";

export function branchName(issueNumber: number, title: string): string {
  const slug = title.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40).replace(/-+$/, "");
  return `bosun/${issueNumber}${slug ? `-${slug}` : ""}`;
}

export interface PullRequestRef { number: number; url: string; draft: boolean; created: boolean }

/**
 * `draft` is for a new pull request only (as the gate decided it); an existing one keeps its draft
 * state here, and the merge gate (src/gate/apply-gate.ts) is what changes it.
 */
export async function upsertPullRequest(octokit: GitHubClient, o: { owner: string; repo: string; head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestRef> {
  const open = await octokit.rest.pulls.list({ owner: o.owner, repo: o.repo, head: `${o.owner}:${o.head}`, base: o.base, state: "open", per_page: 10 });
  const existing = open.data[0];
  if (existing) {
    await octokit.rest.pulls.update({ owner: o.owner, repo: o.repo, pull_number: existing.number, title: o.title, body: o.body });
    return { number: existing.number, url: existing.html_url, draft: existing.draft ?? false, created: false };
  }
  const created = await octokit.rest.pulls.create({ owner: o.owner, repo: o.repo, head: o.head, base: o.base, title: o.title, body: o.body, draft: o.draft, maintainer_can_modify: true });
  return { number: created.data.number, url: created.data.html_url, draft: created.data.draft ?? false, created: true };
}

/**
 * Takes a pull request out of draft or back into it. REST cannot: GitHub offers this only as the
 * GraphQL mutations `markPullRequestReadyForReview` and `convertPullRequestToDraft`.
 */
export async function setDraft(octokit: GitHubClient, pr: { nodeId: string; draft: boolean }, draft: boolean): Promise<boolean> {
  if (pr.draft === draft) return draft;
  const mutation = draft ? "convertPullRequestToDraft" : "markPullRequestReadyForReview";
  const r = await octokit.graphql<Record<string, { pullRequest: { isDraft: boolean } }>>(
    `mutation($id: ID!) { ${mutation}(input: { pullRequestId: $id }) { pullRequest { isDraft } } }`, { id: pr.nodeId },
  );
  return r[mutation]?.pullRequest.isDraft ?? draft;
}

export interface NetworkSummary { phase: string; reached: string[]; refused: string[] }

export function renderPullRequestBody(run: Run, o: { gateMissing: string[]; gateRequired?: boolean; testsPassed: boolean | null; protectedWaiting?: string[]; network?: NetworkSummary[] }): string {
  const f = run.facts;
  const files = (f.changedFiles ?? []).map((x) => `- \`${x.path}\` (${({ A: "added", M: "modified", D: "deleted" } as Record<string, string>)[x.status] ?? x.status})`);
  const test = f.testCommand
    ? `\`${f.testCommand}\`: ${o.testsPassed ? "✅ passed" : f.testTimedOut ? "❌ timed out" : `❌ failed (exit code ${f.testExitCode ?? "?"})`}`
    : "No test command is configured (`test.command` in `.github/bosun.yml`).";
  const lines = [
    `Bosun's agent worked on #${run.issueNumber} at the request of @${run.requestedBy}.`,
    "",
    "### Summary",
    f.summary ? neutralize(f.summary) : "_The agent wrote no summary._",
    "",
    "### Files changed",
    ...(files.length ? files : ["_none_"]),
    "",
    "### Tests",
    test,
    ...(f.testCommand && !o.testsPassed && f.testOutputTail ? ["", "<details><summary>Test output (last lines)</summary>", "", fence(f.testOutputTail), "</details>"] : []),
    "",
    "### Network",
    ...(o.network?.length
      ? o.network.map((n) => `- ${n.phase}: reached ${n.reached.length ? n.reached.map((h) => `\`${h}\``).join(", ") : "nothing"}; refused ${n.refused.length ? n.refused.map((h) => `\`${h}\``).join(", ") : "nothing"}`)
      : ["No sandbox phase of this run had network access."]),
    "",
    "### Before this can merge",
    "Bosun never merges and never approves. An owner's review is required, and an approval from the person who asked for this run does not count on its own (check `bosun/independent-review`).",
    ...(o.protectedWaiting?.length ? ["", "This change touches paths the org's policy protects, so it stays a draft with a failing `bosun` check until someone allowed comments `/bosun approve` here:", ...o.protectedWaiting.map((p) => `- \`${p}\``)] : []),
    ...(o.gateMissing.length ? ["", o.gateRequired === false ? "The base branch's protection is missing these settings (the org's policy does not require them):" : "This pull request stays a draft until the base branch's protection requires:", ...o.gateMissing.map((m) => `- ${m}`)] : []),
    "",
    `Closes #${run.issueNumber}`,
    "",
    `<sub>Bosun run \`${run.id}\`</sub>`,
  ];
  return lines.join("\n");
}
