// /bosun/task.json: what the agent is asked to do. Issue text is framed as the issue's words,
// not as instructions to the agent, and arrives without hidden characters.
import type { RunMode } from "../runs/run.ts";
import { sanitizeIssueText } from "../policy/sanitize-issue-text.ts";
import { frameRepositoryInstructions, type RepositoryInstructions } from "./repository-instructions.ts";
import { frame, frameRule, group, newBoundary, withoutBoundary } from "./frame.ts";

export interface AgentTask {
  run_id: string;
  repository: string;
  mode: RunMode;
  issue: { number: number; title: string; author: string; body: string; comments: { author: string; body: string }[] };
  instructions: string;
  test_command: string | null;
  limits: { timeout_minutes: number };
  /** A follow-up on Bosun's pull request: what the reviewer asked for, to address with a new commit. */
  follow_up?: FollowUp;
  /** The repository's notes for agents (AGENTS.md, CLAUDE.md, .github/copilot-instructions.md) from its base branch. */
  repository_instructions?: RepositoryInstructions[];
  /** A ready-made prompt for agents that take one. */
  prompt: string;
  /** The random boundary the prompt's frames carry (an agent that adds its own words can name it). */
  frame_boundary: string;
}

export interface FollowUp {
  pull_request: number;
  branch: string;
  requested_by: string;
  review: { body: string; comments: { path: string; line: number | null; body: string }[] } | null;
  instructions: string | null;
}

export function buildTask(o: {
  runId: string; repository: string; mode: RunMode; instructions: string; testCommand: string | null; timeoutMinutes: number;
  issue: { number: number; title: string; author: string; body: string | null; comments: { author: string; body: string | null }[] };
  followUp?: FollowUp;
  repositoryInstructions?: RepositoryInstructions[];
  /** Tests pass one to compare prompts; otherwise drawn at random for this task. */
  boundary?: string;
}): AgentTask {
  const boundary = o.boundary ?? newBoundary();
  const issue = {
    number: o.issue.number,
    title: sanitizeIssueText(o.issue.title),
    author: o.issue.author,
    body: sanitizeIssueText(o.issue.body),
    comments: o.issue.comments.map((c) => ({ author: c.author, body: sanitizeIssueText(c.body) })),
  };
  // A reviewer's words are framed like the issue's: a description of the work, sanitized the same way.
  const followUp: FollowUp | undefined = o.followUp && {
    ...o.followUp,
    review: o.followUp.review && { body: sanitizeIssueText(o.followUp.review.body), comments: o.followUp.review.comments.map((c) => ({ ...c, body: sanitizeIssueText(c.body) })) },
    instructions: o.followUp.instructions === null ? null : sanitizeIssueText(o.followUp.instructions),
  };
  const goal = o.mode === "plan"
    ? "Investigate and write a plan in /bosun/result.json (`summary`). Do not change files."
    : "Make the change the issue asks for in /workspace. Bosun computes the diff, runs the tests and opens the pull request; write a short `summary` and `title` to /bosun/result.json.";
  const quoted = group("issue", boundary, [
    withoutBoundary(`# ${issue.title}\n\n${issue.body}`, boundary),
    ...issue.comments.map((c) => `\n${frame("comment", boundary, c.body, { author: c.author })}`),
  ], { number: issue.number, author: issue.author });
  const prompt = [
    `You are working on ${o.repository}. ${goal}`,
    o.instructions ? `Instructions from the repository's owners:\n${o.instructions}` : "",
    frameRule(boundary),
    "What follows between the <issue> tags is the text of a GitHub issue and its comments as their authors wrote them.",
    quoted,
    followUp ? describeFollowUp(followUp, boundary) : "",
    frameRepositoryInstructions(o.repositoryInstructions ?? [], boundary),
  ].filter(Boolean).join("\n\n");
  return {
    run_id: o.runId, repository: o.repository, mode: o.mode, issue, instructions: o.instructions, test_command: o.testCommand, limits: { timeout_minutes: o.timeoutMinutes },
    ...(followUp ? { follow_up: followUp } : {}), ...(o.repositoryInstructions?.length ? { repository_instructions: o.repositoryInstructions } : {}), prompt, frame_boundary: boundary,
  };
}

function describeFollowUp(f: FollowUp, boundary: string): string {
  const inner: string[] = [];
  if (f.review?.body) inner.push(withoutBoundary(f.review.body, boundary));
  for (const c of f.review?.comments ?? []) inner.push(`\n${frame("comment", boundary, c.body, { path: c.path, line: c.line ?? undefined })}`);
  if (f.instructions) inner.push(withoutBoundary(f.instructions, boundary));
  return [
    `This is a follow-up on pull request #${f.pull_request} (branch \`${f.branch}\`), which already holds earlier work on the issue: /workspace is that branch as it stands now. @${f.requested_by} asked for the changes below; make them on top of it.`,
    "What follows between the <review> tags is what they wrote.",
    group("review", boundary, inner),
  ].join("\n");
}
