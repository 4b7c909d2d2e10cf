// A run as the rest of Bosun sees it: plain data, read from and written to Postgres.

export const runStates = [
  "queued",
  "awaiting_approval",
  "preparing",
  "running",
  "verifying",
  "awaiting_push_approval",
  "publishing",
  "succeeded",
  "failed",
  "cancelled",
  "refused",
] as const;
export type RunState = (typeof runStates)[number];
export const terminalStates: readonly RunState[] = ["succeeded", "failed", "cancelled", "refused"];
export type RunMode = "pull_request" | "plan";
/** States in which a run waits for a person's `/bosun approve`; no worker holds it meanwhile. */
export const waitingStates: readonly RunState[] = ["awaiting_approval", "awaiting_push_approval"];
/** Still waiting for a person: a held change whose approval is recorded waits only for a worker. */
export function isWaitingForPerson(run: Pick<Run, "state" | "facts">): boolean {
  if (run.state === "awaiting_push_approval") return !pushApproved(run.facts);
  return waitingStates.includes(run.state);
}

/** Someone approved pushing exactly the verified commit (store.claim says the same in SQL). */
export function pushApproved(f: RunFacts): boolean {
  return !!f.pushApproval && !!f.commitSha && f.pushApproval.sha === f.commitSha;
}

/** What the steps learnt, kept on the run so a repeated step can skip what is done. */
export interface RunFacts {
  requesterId?: number;
  requesterType?: string;
  /** Set by `/bosun approve`: who approved the issue's text, and the text they approved. */
  approval?: { by: string; at: string; title: string; body: string | null; command?: number };
  /** When the trigger label was added: comments after it are not part of the task. */
  labelledAt?: string;
  /** The webhook delivery that asked for the run (none for `/bosun retry`): on every log line of the run. */
  deliveryId?: string;
  issueTitle?: string;
  defaultBranch?: string;
  cloneUrl?: string;
  /** The task handed to the agent, kept so a restarted step hands over the same one. */
  task?: import("../agents/task.ts").AgentTask;
  config?: import("../config/repo-config.ts").RepoConfig;
  /** The repository's dev container as Bosun applied it (image and setup where `.github/bosun.yml` said none; its variables). */
  devcontainer?: import("../config/devcontainer.ts").Devcontainer;
  /** The settings the run works under: the org's rules for the repository and its choices within them. */
  policy?: import("../policy/effective-policy.ts").EffectivePolicy;
  /** Where each setting came from (`/bosun policy` and the transcript say it). */
  policySources?: import("../policy/effective-policy.ts").Sources;
  /** The repository's choices the org's rules answered differently, each naming its rule. */
  policyAdjustments?: import("../policy/effective-policy.ts").Adjustment[];
  /** Fixed author/committer time, so recomputing the commit after a restart gives the same sha. */
  commitDate?: string;
  /** An agent container an owner re-attached to after a crash: which container, by which epoch. */
  adoptedAgent?: { containerId: string; startedBy: number; by: number };
  /** When a draining owner stopped following the agent (its sandbox time up to then is counted). */
  agentHandedOverAt?: string;
  /** What the setup left untracked in the agent's workspace (`node_modules/`, `.venv/`): kept out of the agent's change. */
  setupLeftovers?: string[];
  /** Setup caches this run's volumes lie over (or were copied from): kept while the run lives. */
  setupCachesInUse?: string[];
  agentExitCode?: number;
  agentTimedOut?: boolean;
  agentOutputTail?: string;
  summary?: string;
  prTitle?: string;
  changedFiles?: { path: string; status: string }[];
  testCommand?: string | null;
  testExitCode?: number | null;
  testTimedOut?: boolean;
  testOutputTail?: string;
  /** The setup before the tests: run (with its last lines) or restored from the setup cache, and how long it took. */
  testSetup?: { command: string; cached: boolean; seconds: number; tail: string };
  commitSha?: string;
  gateMissing?: string[];
  /** The verified change as the waiting comment shows it (redacted; cut past 30,000 characters). */
  heldDiff?: { text: string; truncated: boolean; length?: number; notes?: string[] };
  /** Changed files under the policy's protected paths. */
  protectedChanges?: string[];
  /**
   * `/bosun approve` of the verified commit before anything is pushed: who approved it, and which
   * commit (the one the waiting comment showed). Nothing the agent wrote reaches GitHub without it,
   * unless the org's policy pushes before approval (never for protected paths).
   */
  pushApproval?: { by: string; at: string; sha: string; command?: number };
  /** The issue text the waiting comment showed (and `/bosun approve` approves): title, body and their hash. */
  approvalShown?: { title: string; body: string | null; hash: string; at: string };
  planCommentId?: number;
  reviewersRequested?: string[];
  steps?: { name: string; at: string }[];
  /** Why a run waits (the policy's concurrency limit, a Docker outage); null once it moves on. */
  waiting?: string | null;
  /** When Bosun lost contact with its Docker engine during this run; null once it is back. */
  dockerLostSince?: string | null;
  failure?: { title: string; detail: string };
  /** Kept when the policy's retention reduced the run's events to their summary. */
  retainedSummary?: import("../audit/summary.ts").RunSummary;
  /**
   * A follow-up on Bosun's own pull request: a review that requested changes, or `/bosun <instructions>`
   * on it. The run works on the pull request's branch as it stands (a person's push included) and
   * adds a commit; its progress comment is on the pull request.
   */
  iteration?: Iteration;
  /** People who pushed to the pull request's branch (recorded from `pull_request.synchronize`). */
  pushers?: Person[];
  /** Review comments a follow-up has replied to already. */
  iterationReplies?: number[];
  transcriptReducedAt?: string;
}

export interface Run {
  id: string;
  installationId: number;
  repoId: number;
  owner: string;
  repo: string;
  issueNumber: number;
  mode: RunMode;
  state: RunState;
  requestedBy: string;
  createdAt: Date;
  stateChangedAt: Date;
  epoch: number;
  attempt: number;
  progressCommentId: number | null;
  baseBranch: string | null;
  baseSha: string | null;
  branch: string | null;
  headSha: string | null;
  prNumber: number | null;
  prUrl: string | null;
  checkRunId: number | null;
  reviewCheckRunId: number | null;
  facts: RunFacts;
  outcome: string | null;
  lastError: string | null;
}

/** Someone on GitHub: the login to name them, the numeric id to recognise them (logins can be renamed). */
export interface Person { login: string; id: number | null }

/** The same account: by id when both are known, else by login (which GitHub compares without case). */
export function samePerson(a: Person, b: Person): boolean {
  if (a.id !== null && b.id !== null) return a.id === b.id;
  return a.login.toLowerCase() === b.login.toLowerCase();
}

/** Who asked for the run. */
export function requesterOf(run: Pick<Run, "requestedBy" | "facts">): Person {
  return { login: run.requestedBy, id: run.facts.requesterId ?? null };
}

export function isTerminal(state: RunState): boolean {
  return terminalStates.includes(state);
}

export interface Iteration {
  /** The run whose pull request this follows up. */
  of: string;
  pullNumber: number;
  /** The pull request's head branch (`bosun/…`), base branch and title (a follow-up does not rename it). */
  branch: string;
  base: string;
  title: string;
  /** Who asked: the reviewer, or the commenter. */
  by: string;
  review: { id: number; body: string | null } | null;
  instructions: string | null;
  /** The review's inline comments, read in prepare: what the agent addresses, and where Bosun replies. */
  comments?: { id: number; path: string; line: number | null; body: string }[];
}

/** Where a run reports: the issue, or for a follow-up the pull request. */
export function progressNumber(run: Pick<Run, "issueNumber" | "facts">): number {
  return run.facts.iteration?.pullNumber ?? run.issueNumber;
}

/** A follow-up on the pull request of `run`, asked for by `by`. */
export function followUpOf(run: Pick<Run, "id">, pr: { number: number; title: string; head: { ref: string }; base: { ref: string } }, by: string, review: Iteration["review"], instructions: string | null): Iteration {
  return { of: run.id, pullNumber: pr.number, branch: pr.head.ref, base: pr.base.ref, title: pr.title, by, review, instructions };
}
