// The run's one progress comment on the issue, edited in place from queueing to outcome.
// A hidden marker names the run, so a restarted worker finds the comment instead of adding one.
import { isTerminal, progressNumber, type Run, type RunState } from "../runs/run.ts";
import { fence } from "./markdown.ts";
import { revealHidden } from "../policy/sanitize-issue-text.ts";

/** GitHub takes comments of up to 65,536 characters; the rest of the comment needs a few thousand. */
const maxShownText = 30_000;
import type { GitHubClient } from "./tokens.ts";

export const progressMarker = (runId: string): string => `<!-- bosun:progress run=${runId} -->`;

const headline: Record<RunState, string> = {
  queued: "⏳ Queued",
  awaiting_approval: "✋ Waiting for a maintainer's `/bosun approve`",
  preparing: "📥 Preparing the workspace",
  running: "🤖 The agent is working",
  verifying: "🧪 Checking the change",
  awaiting_push_approval: "✋ Change ready: waiting for someone else's `/bosun approve` before anything is pushed",
  publishing: "📤 Publishing the change",
  succeeded: "✅ Done",
  failed: "❌ Failed",
  cancelled: "🛑 Cancelled",
  refused: "🚫 Refused",
};

function elapsed(from: Date, to: Date): string {
  const s = Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${s % 60}s` : `${s}s`;
}

const nextStep: Record<"pull_request" | "plan", Partial<Record<RunState, string>>> = {
  pull_request: {
    queued: "fetch the repository",
    awaiting_approval: "a maintainer comments `/bosun approve`",
    preparing: "start the agent in a sandbox",
    running: "compute the diff and run the tests",
    verifying: "show the change here for approval before anything is pushed",
    awaiting_push_approval: "someone with write access other than the requester comments `/bosun approve`; then Bosun pushes the branch and opens the pull request",
    publishing: "check the base branch's protection and finish",
  },
  plan: {
    queued: "fetch the repository",
    awaiting_approval: "a maintainer comments `/bosun approve`",
    preparing: "start the agent in a sandbox, read-only",
    running: "post the agent's plan",
    verifying: "post the agent's plan",
  },
};

/** `publicUrl`: where Bosun's dashboard is (BOSUN_PUBLIC_URL); the run's id then links to its page. */
export function renderProgress(run: Run, now: Date = new Date(), publicUrl?: string): string {
  const f = run.facts;
  const lines = [
    `### Bosun · ${headline[run.state]}`,
    "",
    `| | |`,
    `|---|---|`,
    `| Run | ${publicUrl ? `[\`${run.id}\`](${new URL(`/runs/${run.id}`, publicUrl).toString()})` : `\`${run.id}\``} |`,
    `| Mode | ${run.mode === "plan" ? "plan (read-only)" : "pull request"} |`,
    `| Requested by | @${run.requestedBy} |`,
    `| Elapsed | ${elapsed(run.createdAt, now)} |`,
  ];
  const steps = f.steps ?? [];
  if (steps.length > 0) {
    lines.push("", "**Steps**", ...steps.map((s) => `- ${s.name}`));
  }
  if (f.waiting && !isTerminal(run.state)) lines.push("", `**Waiting:** ${f.waiting}`);
  const adjusted = f.policyAdjustments ?? [];
  if (adjusted.length > 0) {
    lines.push("", "**Settings the org's policy answered differently**", ...adjusted.map((x) => `- ${x.message}`));
  }
  const next = nextStep[run.mode][run.state];
  if (next) lines.push("", `**Next:** ${next}.`);
  if (run.outcome) lines.push("", `**Outcome:** ${run.outcome}`);
  if (run.state === "awaiting_approval" && f.approvalShown) {
    const t = f.approvalShown;
    const text = revealHidden(`${t.title}\n\n${t.body ?? ""}`);
    const cut = text.length > maxShownText;
    lines.push("", `<details open><summary>The text \`/bosun approve\` lets the agent read (text ${t.hash}${cut ? `; only its first ${maxShownText} characters fit here: read the issue itself before approving` : ""})</summary>\n\n${fence(cut ? text.slice(0, maxShownText) : text, "text")}\n</details>`);
  }
  if (run.state === "awaiting_push_approval" && f.heldDiff) {
    const files = f.changedFiles ?? [];
    const held = f.heldDiff;
    const notes = held.notes ?? [];
    if (notes.length) lines.push("", "**Not shown as text below, look at these:**", ...notes.map((n) => `- ${n}`));
    const cut = held.truncated ? ` (cut at ${held.text.length} of ${held.length ?? "more"} characters; the run's page on the dashboard shows up to 200,000)` : "";
    lines.push("", `<details><summary>The change: ${files.length} file${files.length === 1 ? "" : "s"} in ${(f.commitSha ?? "").slice(0, 7)}${cut}</summary>\n\n${fence(held.text, "diff")}\n</details>`);
  }
  if (f.failure?.detail) lines.push("", `<details><summary>${f.failure.title}</summary>\n\n${fence(f.failure.detail)}\n</details>`);
  lines.push("", progressMarker(run.id));
  return lines.join("\n");
}

/** Creates the comment once, or updates it; returns its id. */
export async function upsertProgressComment(octokit: GitHubClient, appId: number, run: Run, body: string): Promise<number> {
  const target = { owner: run.owner, repo: run.repo };
  if (run.progressCommentId) {
    await octokit.rest.issues.updateComment({ ...target, comment_id: run.progressCommentId, body });
    return run.progressCommentId;
  }
  const existing = await findMarkedComment(octokit, appId, { ...run, issueNumber: progressNumber(run) }, progressMarker(run.id));
  if (existing) {
    await octokit.rest.issues.updateComment({ ...target, comment_id: existing, body });
    return existing;
  }
  const created = await octokit.rest.issues.createComment({ ...target, issue_number: progressNumber(run), body });
  return created.data.id;
}

/** A comment Bosun itself made with this marker; anyone can copy a marker, so the author must be this app. */
export async function findMarkedComment(octokit: GitHubClient, appId: number, run: Pick<Run, "owner" | "repo" | "issueNumber">, marker: string): Promise<number | null> {
  const comments = await octokit.paginate(octokit.rest.issues.listComments, { owner: run.owner, repo: run.repo, issue_number: run.issueNumber, per_page: 100 });
  return comments.find((c) => c.body?.includes(marker) && c.performed_via_github_app?.id === appId)?.id ?? null;
}
