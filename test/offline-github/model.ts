// The offline GitHub's data: everything GitHub would know about users, orgs, repositories,
// issues, pull requests, checks, the app, its installations and the tokens it minted.
// Git objects themselves live in bare repositories on disk (see git-store.ts).

export type RepoRole = "none" | "read" | "triage" | "write" | "maintain" | "admin";
export const repoRoleOrder: readonly RepoRole[] = ["none", "read", "triage", "write", "maintain", "admin"];
export function roleAtLeast(role: RepoRole, wanted: RepoRole): boolean {
  return repoRoleOrder.indexOf(role) >= repoRoleOrder.indexOf(wanted);
}

export type AccessLevel = "read" | "write";
/** Installation permissions as GitHub names them (`pull_requests`, `contents`, …). */
export type Permissions = Record<string, AccessLevel | "admin">;

export interface Account {
  id: number;
  login: string;
  type: "User" | "Bot" | "Organization";
  name: string | null;
  email: string | null;
  createdAt: Date;
}

export interface Org {
  account: Account;
  /** login → role */
  members: Map<string, "admin" | "member">;
}

export interface Team {
  id: number;
  org: string;
  slug: string;
  name: string;
  description: string | null;
  members: Set<string>;
  /** repository full name → role */
  repos: Map<string, RepoRole>;
}

export interface Label {
  id: number;
  name: string;
  color: string;
  description: string | null;
  isDefault: boolean;
}

export interface Comment {
  id: number;
  issueNumber: number;
  user: string;
  body: string;
  createdAt: Date;
  updatedAt: Date;
  viaApp: boolean;
}

export interface Reaction {
  id: number;
  user: string;
  content: string;
  createdAt: Date;
}

export interface PullData {
  id: number;
  head: string;
  base: string;
  draft: boolean;
  merged: boolean;
  mergedAt: Date | null;
  mergedBy: string | null;
  mergeCommitSha: string | null;
  /** The head commit when the pull request was merged or closed; while open it is read from the ref. */
  frozenHeadSha: string | null;
  requestedReviewers: Set<string>;
  requestedTeams: Set<string>;
  maintainerCanModify: boolean;
}

export interface Issue {
  id: number;
  number: number;
  title: string;
  body: string | null;
  user: string;
  state: "open" | "closed";
  stateReason: "completed" | "not_planned" | "reopened" | null;
  labels: string[];
  assignees: string[];
  locked: boolean;
  createdAt: Date;
  updatedAt: Date;
  closedAt: Date | null;
  reactions: Reaction[];
  viaApp: boolean;
  /** Present when this issue is a pull request. */
  pull: PullData | null;
}

export interface Review {
  id: number;
  pullNumber: number;
  user: string;
  state: "APPROVED" | "CHANGES_REQUESTED" | "COMMENTED" | "DISMISSED" | "PENDING";
  body: string;
  commitId: string;
  submittedAt: Date;
}

/** An inline comment on a pull request's diff (GitHub's "pull request review comment"). */
export interface ReviewComment {
  id: number;
  pullNumber: number;
  /** Every review comment belongs to a review; a reply makes a review of its own, as on GitHub. */
  reviewId: number;
  user: string;
  body: string;
  path: string;
  commitId: string;
  originalCommitId: string;
  /** The line in the file on `side` (the end of the range for a multi-line comment). */
  line: number;
  side: "LEFT" | "RIGHT";
  startLine: number | null;
  startSide: "LEFT" | "RIGHT" | null;
  /** Lines down from the file's first `@@` header in the diff (GitHub's closing-down `position`). */
  position: number;
  /** The diff from the hunk's header down to the commented line. */
  diffHunk: string;
  /** The top-level comment this one answers; replies to replies are not made. */
  inReplyTo: number | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface CheckRun {
  id: number;
  name: string;
  headSha: string;
  status: "queued" | "in_progress" | "completed" | "waiting" | "requested" | "pending";
  conclusion: "success" | "failure" | "neutral" | "cancelled" | "skipped" | "timed_out" | "action_required" | "stale" | null;
  startedAt: Date | null;
  completedAt: Date | null;
  externalId: string;
  detailsUrl: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  appId: number;
  checkSuiteId: number;
}

export interface BranchProtection {
  /** `apps` pins a context to the GitHub App that must provide it (GitHub's `checks[].app_id`). */
  requiredStatusChecks: { strict: boolean; contexts: string[]; apps?: Record<string, number> } | null;
  requiredPullRequestReviews: {
    requiredApprovingReviewCount: number;
    requireCodeOwnerReviews: boolean;
    /** A push to the head branch dismisses its approving reviews. */
    dismissStaleReviews: boolean;
    /**
     * The most recent push must be approved by someone other than its pusher (GitHub's
     * `require_last_push_approval`); absent means false.
     */
    requireLastPushApproval?: boolean;
  } | null;
  enforceAdmins: boolean;
  allowForcePushes: boolean;
  allowDeletions: boolean;
}

export interface Repo {
  id: number;
  owner: string;
  name: string;
  description: string | null;
  private: boolean;
  defaultBranch: string;
  createdAt: Date;
  updatedAt: Date;
  pushedAt: Date;
  /** login → role, for outside and direct collaborators */
  collaborators: Map<string, RepoRole>;
  protection: Map<string, BranchProtection>;
  labels: Map<string, Label>;
  issues: Map<number, Issue>;
  comments: Map<number, Comment>;
  reviews: Map<number, Review>;
  reviewComments: Map<number, ReviewComment>;
  checkRuns: Map<number, CheckRun>;
  /** branch → login of whoever moved it last (a push, a commit through the API, a merge). */
  lastPushers: Map<string, string>;
  nextNumber: number;
}

/**
 * A GitHub Actions workflow run GitHub would start. The emulator runs nothing: it records which
 * workflow file, read from which commit, would run and with what secrets and token.
 */
export interface WorkflowRun {
  id: number;
  /** owner/name */
  repo: string;
  /** The workflow file's path, `.github/workflows/….yml`. */
  workflow: string;
  event: "push" | "pull_request" | "pull_request_target";
  /** The pull request's activity type (`opened`, `synchronize`, …); null for push. */
  action: string | null;
  /** GITHUB_REF: the pushed ref, `refs/pull/{n}/merge` for pull_request, the base branch for pull_request_target. */
  ref: string;
  /**
   * GITHUB_SHA, the commit the run checks out by default: the pushed commit; for pull_request the
   * head (GitHub uses the test merge commit, whose workflow files are the head's); for
   * pull_request_target the base branch's last commit.
   */
  headSha: string;
  /** The commit the workflow file was read from. */
  workflowSha: string;
  /** Who caused the run: the pusher, or the sender of the pull request event. */
  actor: string;
  pullNumber: number | null;
  /** Whether the repository's secrets reach the run. */
  secrets: boolean;
  /** GITHUB_TOKEN's greatest access. */
  tokenPermissions: "read" | "write";
  /** The pull request's head is in a fork; always false (the emulator has no forks). */
  fromFork: boolean;
  /** Set when GitHub would fail the run at once: the workflow file did not parse. */
  failed?: "invalid workflow file";
  at: Date;
}

export interface App {
  id: number;
  slug: string;
  name: string;
  owner: string;
  clientId: string;
  clientSecret: string;
  privateKeyPem: string;
  publicKeyPem: string;
  webhookSecret: string;
  permissions: Permissions;
  events: string[];
  description: string | null;
  /** The app's homepage (the manifest's `url`). */
  externalUrl: string | null;
  /** Where webhooks go, as registered (the manifest's `hook_attributes.url`). */
  hookUrl: string | null;
  /** Where the OAuth web flow may send people back to; empty: any loopback URL. */
  callbackUrls: string[];
  /** Where people go after installing the app. */
  setupUrl: string | null;
  createdAt: Date;
}

/** A code from the manifest flow's "Create GitHub App", waiting to be traded for the app's credentials. */
export interface ManifestCode {
  code: string;
  appId: number;
  expiresAt: Date;
}

export interface Installation {
  id: number;
  account: string;
  repositorySelection: "all" | "selected";
  repositoryIds: Set<number>;
  permissions: Permissions;
  events: string[];
  createdAt: Date;
}

export interface TokenCall {
  at: Date;
  method: string;
  path: string;
  status: number;
}

export interface Token {
  token: string;
  kind: "installation" | "user";
  installationId: number | null;
  login: string | null;
  /**
   * A user access token of the app (`ghu_`, from the OAuth web flow): it sees only what both the
   * user and the app may. A personal access token (`ghp_`) sees what the user may.
   */
  userToServer: boolean;
  /** Repository ids this token may touch; null means every repository of the installation. */
  repositoryIds: number[] | null;
  permissions: Permissions;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  calls: TokenCall[];
}

/** A code from the authorize page, waiting to be traded for a user access token. */
export interface OAuthCode {
  code: string;
  login: string;
  clientId: string;
  redirectUri: string;
  expiresAt: Date;
}

/** The refresh token (`ghr_`) that came with a user access token; it works once. */
export interface RefreshToken {
  token: string;
  login: string;
  accessToken: string;
  expiresAt: Date;
}

export function fullName(repo: Pick<Repo, "owner" | "name">): string {
  return `${repo.owner}/${repo.name}`;
}
