// JSON shapes as GitHub sends them. Webhook schemas forbid extra properties, so each renderer
// emits exactly the webhook's property set and REST-only fields are added by the caller.
import type { Account, CheckRun, Comment, Issue, Label, Repo, Review, ReviewComment, Team } from "./model.ts";
import { fullName } from "./model.ts";
import type { World } from "./world.ts";

export function nodeId(type: string, id: number): string {
  return Buffer.from(`${type}:${id}`).toString("base64url");
}

const iso = (d: Date | null): string | null => (d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : null);
export const isoTime = (d: Date): string => iso(d) as string;

export function renderUser(w: World, a: Account): Record<string, unknown> {
  // Logins of bots (`bosun[bot]`) are percent-encoded in URLs, and a bot's page is its app's page.
  const api = `${w.apiUrl}/users/${encodeURIComponent(a.login)}`;
  return {
    login: a.login,
    id: a.id,
    node_id: nodeId(a.type === "Organization" ? "Organization" : a.type === "Bot" ? "Bot" : "User", a.id),
    avatar_url: `${w.webUrl}/avatars/u/${a.id}?v=4`,
    gravatar_id: "",
    url: api,
    html_url: a.type === "Bot" ? `${w.webUrl}/apps/${a.login.replace(/\[bot\]$/, "")}` : `${w.webUrl}/${a.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: a.type,
    site_admin: false,
  };
}

export function renderUserByLogin(w: World, login: string): Record<string, unknown> {
  return renderUser(w, w.account(login));
}

export function renderOrganization(w: World, a: Account): Record<string, unknown> {
  const api = `${w.apiUrl}/orgs/${a.login}`;
  return {
    login: a.login,
    id: a.id,
    node_id: nodeId("Organization", a.id),
    url: api,
    repos_url: `${api}/repos`,
    events_url: `${api}/events`,
    hooks_url: `${api}/hooks`,
    issues_url: `${api}/issues`,
    members_url: `${api}/members{/member}`,
    public_members_url: `${api}/public_members{/member}`,
    avatar_url: `${w.webUrl}/avatars/u/${a.id}?v=4`,
    description: null,
  };
}

export function renderRepo(w: World, r: Repo): Record<string, unknown> {
  const name = fullName(r);
  const api = `${w.apiUrl}/repos/${name}`;
  const openIssues = [...r.issues.values()].filter((i) => i.state === "open").length;
  return {
    id: r.id,
    node_id: nodeId("Repository", r.id),
    name: r.name,
    full_name: name,
    private: r.private,
    owner: renderUserByLogin(w, r.owner),
    html_url: `${w.webUrl}/${name}`,
    description: r.description,
    fork: false,
    url: api,
    forks_url: `${api}/forks`,
    keys_url: `${api}/keys{/key_id}`,
    collaborators_url: `${api}/collaborators{/collaborator}`,
    teams_url: `${api}/teams`,
    hooks_url: `${api}/hooks`,
    issue_events_url: `${api}/issues/events{/number}`,
    events_url: `${api}/events`,
    assignees_url: `${api}/assignees{/user}`,
    branches_url: `${api}/branches{/branch}`,
    tags_url: `${api}/tags`,
    blobs_url: `${api}/git/blobs{/sha}`,
    git_tags_url: `${api}/git/tags{/sha}`,
    git_refs_url: `${api}/git/refs{/sha}`,
    trees_url: `${api}/git/trees{/sha}`,
    statuses_url: `${api}/statuses/{sha}`,
    languages_url: `${api}/languages`,
    stargazers_url: `${api}/stargazers`,
    contributors_url: `${api}/contributors`,
    subscribers_url: `${api}/subscribers`,
    subscription_url: `${api}/subscription`,
    commits_url: `${api}/commits{/sha}`,
    git_commits_url: `${api}/git/commits{/sha}`,
    comments_url: `${api}/comments{/number}`,
    issue_comment_url: `${api}/issues/comments{/number}`,
    contents_url: `${api}/contents/{+path}`,
    compare_url: `${api}/compare/{base}...{head}`,
    merges_url: `${api}/merges`,
    archive_url: `${api}/{archive_format}{/ref}`,
    downloads_url: `${api}/downloads`,
    issues_url: `${api}/issues{/number}`,
    pulls_url: `${api}/pulls{/number}`,
    milestones_url: `${api}/milestones{/number}`,
    notifications_url: `${api}/notifications{?since,all,participating}`,
    labels_url: `${api}/labels{/name}`,
    releases_url: `${api}/releases{/id}`,
    deployments_url: `${api}/deployments`,
    created_at: isoTime(r.createdAt),
    updated_at: isoTime(r.updatedAt),
    pushed_at: isoTime(r.pushedAt),
    git_url: `git://${new URL(w.webUrl).host}/${name}.git`,
    ssh_url: `git@${new URL(w.webUrl).hostname}:${name}.git`,
    clone_url: `${w.webUrl}/${name}.git`,
    svn_url: `${w.webUrl}/${name}`,
    homepage: null,
    size: 0,
    stargazers_count: 0,
    watchers_count: 0,
    language: null,
    has_issues: true,
    has_projects: true,
    has_downloads: true,
    has_wiki: true,
    has_pages: false,
    has_discussions: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    disabled: false,
    open_issues_count: openIssues,
    license: null,
    allow_forking: true,
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: r.private ? "private" : "public",
    forks: 0,
    open_issues: openIssues,
    watchers: 0,
    default_branch: r.defaultBranch,
    custom_properties: {},
  };
}

/** GET /repos/{owner}/{repo} answers with the full repository, which adds a few counters. */
export function renderFullRepo(w: World, r: Repo, viewerRole: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = { ...renderRepo(w, r), network_count: 0, subscribers_count: 0 };
  if (viewerRole) out["permissions"] = permissionFlags(viewerRole);
  return out;
}

export function permissionFlags(role: string): Record<string, boolean> {
  const order = ["read", "triage", "write", "maintain", "admin"];
  const at = order.indexOf(role);
  return { admin: at >= 4, maintain: at >= 3, push: at >= 2, triage: at >= 1, pull: at >= 0 };
}

export function renderLabel(w: World, r: Repo, l: Label): Record<string, unknown> {
  return {
    id: l.id,
    node_id: nodeId("Label", l.id),
    url: `${w.apiUrl}/repos/${fullName(r)}/labels/${encodeURIComponent(l.name)}`,
    name: l.name,
    description: l.description,
    color: l.color,
    default: l.isDefault,
  };
}

export function renderReactions(w: World, url: string, reactions: { content: string }[]): Record<string, unknown> {
  const count = (c: string): number => reactions.filter((x) => x.content === c).length;
  return {
    url,
    total_count: reactions.length,
    "+1": count("+1"),
    "-1": count("-1"),
    laugh: count("laugh"),
    hooray: count("hooray"),
    confused: count("confused"),
    heart: count("heart"),
    rocket: count("rocket"),
    eyes: count("eyes"),
  };
}

export function authorAssociation(w: World, r: Repo, login: string): string {
  if (r.owner === login) return "OWNER";
  const org = w.orgs.get(r.owner);
  if (org?.members.has(login)) return "MEMBER";
  if (r.collaborators.has(login)) return "COLLABORATOR";
  return "NONE";
}

export function renderIssue(w: World, r: Repo, i: Issue): Record<string, unknown> {
  const api = `${w.apiUrl}/repos/${fullName(r)}/issues/${i.number}`;
  const comments = [...r.comments.values()].filter((c) => c.issueNumber === i.number).length;
  const out: Record<string, unknown> = {
    url: api,
    repository_url: `${w.apiUrl}/repos/${fullName(r)}`,
    labels_url: `${api}/labels{/name}`,
    comments_url: `${api}/comments`,
    events_url: `${api}/events`,
    html_url: `${w.webUrl}/${fullName(r)}/${i.pull ? "pull" : "issues"}/${i.number}`,
    id: i.id,
    node_id: nodeId(i.pull ? "PullRequest" : "Issue", i.id),
    number: i.number,
    title: i.title,
    user: renderUserByLogin(w, i.user),
    labels: i.labels.map((n) => renderLabel(w, r, w.label(r, n))),
    state: i.state,
    locked: i.locked,
    assignee: i.assignees[0] ? renderUserByLogin(w, i.assignees[0]) : null,
    assignees: i.assignees.map((a) => renderUserByLogin(w, a)),
    milestone: null,
    comments,
    created_at: isoTime(i.createdAt),
    updated_at: isoTime(i.updatedAt),
    closed_at: iso(i.closedAt),
    author_association: authorAssociation(w, r, i.user),
    active_lock_reason: null,
    body: i.body,
    reactions: renderReactions(w, `${api}/reactions`, i.reactions),
    timeline_url: `${api}/timeline`,
    performed_via_github_app: i.viaApp ? w.renderApp() : null,
    state_reason: i.stateReason,
  };
  if (i.pull) {
    out["draft"] = i.pull.draft;
    out["pull_request"] = {
      url: `${w.apiUrl}/repos/${fullName(r)}/pulls/${i.number}`,
      html_url: `${w.webUrl}/${fullName(r)}/pull/${i.number}`,
      diff_url: `${w.webUrl}/${fullName(r)}/pull/${i.number}.diff`,
      patch_url: `${w.webUrl}/${fullName(r)}/pull/${i.number}.patch`,
      merged_at: iso(i.pull.mergedAt),
    };
  }
  return out;
}

export function renderComment(w: World, r: Repo, c: Comment): Record<string, unknown> {
  const api = `${w.apiUrl}/repos/${fullName(r)}/issues/comments/${c.id}`;
  const issue = r.issues.get(c.issueNumber);
  return {
    url: api,
    html_url: `${w.webUrl}/${fullName(r)}/${issue?.pull ? "pull" : "issues"}/${c.issueNumber}#issuecomment-${c.id}`,
    issue_url: `${w.apiUrl}/repos/${fullName(r)}/issues/${c.issueNumber}`,
    id: c.id,
    node_id: nodeId("IssueComment", c.id),
    user: renderUserByLogin(w, c.user),
    created_at: isoTime(c.createdAt),
    updated_at: isoTime(c.updatedAt),
    author_association: authorAssociation(w, r, c.user),
    body: c.body,
    reactions: renderReactions(w, `${api}/reactions`, []),
    performed_via_github_app: c.viaApp ? w.renderApp() : null,
  };
}

export interface PullShas {
  head: string;
  base: string;
  stats: { commits: number; additions: number; deletions: number; changedFiles: number };
  mergeable: boolean | null;
  /** The base branch's protection is not yet satisfied. */
  blocked: boolean;
}

/** The pull request as the webhook's `pull-request` definition has it (the REST shape adds nothing it lacks). */
export function renderPull(w: World, r: Repo, i: Issue, shas: PullShas): Record<string, unknown> {
  const p = i.pull;
  if (!p) throw new Error(`[offline-github] #${i.number} is not a pull request`);
  const name = fullName(r);
  const api = `${w.apiUrl}/repos/${name}/pulls/${i.number}`;
  const issueApi = `${w.apiUrl}/repos/${name}/issues/${i.number}`;
  const html = `${w.webUrl}/${name}/pull/${i.number}`;
  const repoJson = renderRepo(w, r);
  const side = (ref: string, sha: string): Record<string, unknown> => ({
    label: `${r.owner}:${ref}`,
    ref,
    sha,
    user: renderUserByLogin(w, r.owner),
    repo: repoJson,
  });
  const reviewComments = [...r.reviewComments.values()].filter((c) => c.pullNumber === i.number).length;
  return {
    url: api,
    id: p.id,
    node_id: nodeId("PullRequest", p.id),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: issueApi,
    number: i.number,
    state: i.state,
    locked: i.locked,
    title: i.title,
    user: renderUserByLogin(w, i.user),
    body: i.body,
    created_at: isoTime(i.createdAt),
    updated_at: isoTime(i.updatedAt),
    closed_at: iso(i.closedAt),
    merged_at: iso(p.mergedAt),
    merge_commit_sha: p.mergeCommitSha,
    assignee: i.assignees[0] ? renderUserByLogin(w, i.assignees[0]) : null,
    assignees: i.assignees.map((a) => renderUserByLogin(w, a)),
    requested_reviewers: [...p.requestedReviewers].map((a) => renderUserByLogin(w, a)),
    requested_teams: [...p.requestedTeams].map((slug) => renderTeam(w, w.team(r.owner, slug))),
    // A pull request's labels have a string description in GitHub's schema (an issue's may be null).
    labels: i.labels.map((n) => ({ ...renderLabel(w, r, w.label(r, n)), description: w.label(r, n).description ?? "" })),
    milestone: null,
    draft: p.draft,
    commits_url: `${api}/commits`,
    review_comments_url: `${api}/comments`,
    review_comment_url: `${w.apiUrl}/repos/${name}/pulls/comments{/number}`,
    comments_url: `${issueApi}/comments`,
    statuses_url: `${w.apiUrl}/repos/${name}/statuses/${shas.head}`,
    head: side(p.head, shas.head),
    base: side(p.base, shas.base),
    _links: {
      self: { href: api },
      html: { href: html },
      issue: { href: issueApi },
      comments: { href: `${issueApi}/comments` },
      review_comments: { href: `${api}/comments` },
      review_comment: { href: `${w.apiUrl}/repos/${name}/pulls/comments{/number}` },
      commits: { href: `${api}/commits` },
      statuses: { href: `${w.apiUrl}/repos/${name}/statuses/${shas.head}` },
    },
    author_association: authorAssociation(w, r, i.user),
    auto_merge: null,
    active_lock_reason: null,
    merged: p.merged,
    mergeable: i.state === "open" ? shas.mergeable : null,
    rebaseable: i.state === "open" ? shas.mergeable : null,
    mergeable_state: i.state !== "open" ? "unknown" : shas.mergeable === false ? "dirty" : p.draft ? "draft" : shas.blocked ? "blocked" : "clean",
    merged_by: p.mergedBy ? renderUserByLogin(w, p.mergedBy) : null,
    comments: [...r.comments.values()].filter((c) => c.issueNumber === i.number).length,
    review_comments: reviewComments,
    maintainer_can_modify: p.maintainerCanModify,
    commits: shas.stats.commits,
    additions: shas.stats.additions,
    deletions: shas.stats.deletions,
    changed_files: shas.stats.changedFiles,
  };
}

const simplePullKeys = [
  "url", "id", "node_id", "html_url", "diff_url", "patch_url", "issue_url", "number", "state", "locked", "title",
  "user", "body", "created_at", "updated_at", "closed_at", "merged_at", "merge_commit_sha", "assignee", "assignees",
  "requested_reviewers", "requested_teams", "labels", "milestone", "draft", "commits_url", "review_comments_url",
  "review_comment_url", "comments_url", "statuses_url", "head", "base", "_links", "author_association", "auto_merge",
  "active_lock_reason",
] as const;

/** Lists of pull requests and review webhooks carry the shorter "simple" pull request. */
export function simplePull(full: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(simplePullKeys.map((k) => [k, full[k]]));
}

export function renderReview(w: World, r: Repo, rv: Review): Record<string, unknown> {
  const html = `${w.webUrl}/${fullName(r)}/pull/${rv.pullNumber}#pullrequestreview-${rv.id}`;
  const pullApi = `${w.apiUrl}/repos/${fullName(r)}/pulls/${rv.pullNumber}`;
  return {
    id: rv.id,
    node_id: nodeId("PullRequestReview", rv.id),
    user: renderUserByLogin(w, rv.user),
    body: rv.body,
    commit_id: rv.commitId,
    submitted_at: isoTime(rv.submittedAt),
    state: rv.state,
    html_url: html,
    pull_request_url: pullApi,
    author_association: authorAssociation(w, r, rv.user),
    _links: { html: { href: html }, pull_request: { href: pullApi } },
  };
}

/**
 * A review comment with exactly the webhook's `pull-request-review-comment` properties (which the
 * REST `pull-request-review-comment` and `review-comment` schemas accept as well). `position` and
 * `line` keep what they were when the comment was made; they are not re-mapped after later pushes.
 */
export function renderReviewComment(w: World, r: Repo, c: ReviewComment): Record<string, unknown> {
  const name = fullName(r);
  const api = `${w.apiUrl}/repos/${name}/pulls/comments/${c.id}`;
  const pullApi = `${w.apiUrl}/repos/${name}/pulls/${c.pullNumber}`;
  const html = `${w.webUrl}/${name}/pull/${c.pullNumber}#discussion_r${c.id}`;
  const out: Record<string, unknown> = {
    url: api,
    pull_request_review_id: c.reviewId,
    id: c.id,
    node_id: nodeId("PullRequestReviewComment", c.id),
    diff_hunk: c.diffHunk,
    path: c.path,
    position: c.position,
    original_position: c.position,
    commit_id: c.commitId,
    original_commit_id: c.originalCommitId,
    user: renderUserByLogin(w, c.user),
    body: c.body,
    created_at: isoTime(c.createdAt),
    updated_at: isoTime(c.updatedAt),
    html_url: html,
    pull_request_url: pullApi,
    author_association: authorAssociation(w, r, c.user),
    _links: { self: { href: api }, html: { href: html }, pull_request: { href: pullApi } },
    reactions: renderReactions(w, `${api}/reactions`, []),
    start_line: c.startLine,
    original_start_line: c.startLine,
    start_side: c.startSide,
    line: c.line,
    original_line: c.line,
    side: c.side,
  };
  if (c.inReplyTo !== null) out["in_reply_to_id"] = c.inReplyTo;
  out["subject_type"] = "line";
  return out;
}

export function renderTeam(w: World, t: Team): Record<string, unknown> {
  const api = `${w.apiUrl}/organizations/${w.account(t.org).id}/team/${t.id}`;
  return {
    id: t.id,
    node_id: nodeId("Team", t.id),
    url: api,
    html_url: `${w.webUrl}/orgs/${t.org}/teams/${t.slug}`,
    name: t.name,
    slug: t.slug,
    description: t.description,
    privacy: "closed",
    notification_setting: "notifications_enabled",
    permission: "pull",
    members_url: `${api}/members{/member}`,
    repositories_url: `${api}/repos`,
    type: "organization",
    parent: null,
  };
}

export function renderCheckRun(w: World, r: Repo, c: CheckRun): Record<string, unknown> {
  const api = `${w.apiUrl}/repos/${fullName(r)}/check-runs/${c.id}`;
  return {
    id: c.id,
    node_id: nodeId("CheckRun", c.id),
    head_sha: c.headSha,
    external_id: c.externalId,
    url: api,
    html_url: `${w.webUrl}/${fullName(r)}/runs/${c.id}`,
    details_url: c.detailsUrl,
    status: c.status,
    conclusion: c.conclusion,
    started_at: iso(c.startedAt),
    completed_at: iso(c.completedAt),
    output: {
      title: c.output.title,
      summary: c.output.summary,
      text: c.output.text,
      annotations_count: 0,
      annotations_url: `${api}/annotations`,
    },
    name: c.name,
    check_suite: { id: c.checkSuiteId },
    app: w.renderAppForRest(),
    pull_requests: [],
  };
}
