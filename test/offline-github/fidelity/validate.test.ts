// `void test(...)`: node:test runs the tests; the returned promise needs no handling
// (the lint rule no-floating-promises would flag it otherwise).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  knownRestOperation,
  validateRestResponse,
  validateWebhook,
  type SchemaProblem,
} from "./validate.ts";

const API = "https://api.github.com";
const WEB = "https://github.com";
const CREATED = "2024-05-01T12:00:00Z";

function user(login: string, id: number): Record<string, unknown> {
  const u = `${API}/users/${login}`;
  return {
    login,
    id,
    node_id: `U_${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}?v=4`,
    gravatar_id: "",
    url: u,
    html_url: `${WEB}/${login}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type: "User",
    site_admin: false,
  };
}

const reactions = (url: string): Record<string, unknown> => ({
  url: `${url}/reactions`,
  total_count: 0,
  "+1": 0,
  "-1": 0,
  laugh: 0,
  hooray: 0,
  confused: 0,
  heart: 0,
  rocket: 0,
  eyes: 0,
});

function issueComment(): Record<string, unknown> {
  const url = `${API}/repos/octo/demo/issues/comments/11`;
  return {
    id: 11,
    node_id: "IC_11",
    url,
    html_url: `${WEB}/octo/demo/issues/1#issuecomment-11`,
    issue_url: `${API}/repos/octo/demo/issues/1`,
    body: "Looks good",
    user: user("octocat", 1),
    created_at: CREATED,
    updated_at: CREATED,
    author_association: "OWNER",
    performed_via_github_app: null,
    reactions: reactions(url),
  };
}

const COMMENT_ROUTE = "/repos/{owner}/{repo}/issues/comments/{comment_id}";

function getComment(body: unknown, status = 200): SchemaProblem[] {
  return validateRestResponse({ method: "GET", route: COMMENT_ROUTE, status, body });
}

function label(): Record<string, unknown> {
  return {
    id: 7,
    node_id: "LA_7",
    url: `${API}/repos/octo/demo/labels/agent`,
    name: "agent",
    color: "0e8a16",
    default: false,
    description: null,
  };
}

function repository(owner: Record<string, unknown>): Record<string, unknown> {
  const r = `${API}/repos/octo/demo`;
  return {
    id: 100,
    node_id: "R_100",
    name: "demo",
    full_name: "octo/demo",
    private: false,
    owner,
    html_url: `${WEB}/octo/demo`,
    description: null,
    fork: false,
    url: r,
    forks_url: `${r}/forks`,
    keys_url: `${r}/keys{/key_id}`,
    collaborators_url: `${r}/collaborators{/collaborator}`,
    teams_url: `${r}/teams`,
    hooks_url: `${r}/hooks`,
    issue_events_url: `${r}/issues/events{/number}`,
    events_url: `${r}/events`,
    assignees_url: `${r}/assignees{/user}`,
    branches_url: `${r}/branches{/branch}`,
    tags_url: `${r}/tags`,
    blobs_url: `${r}/git/blobs{/sha}`,
    git_tags_url: `${r}/git/tags{/sha}`,
    git_refs_url: `${r}/git/refs{/sha}`,
    trees_url: `${r}/git/trees{/sha}`,
    statuses_url: `${r}/statuses/{sha}`,
    languages_url: `${r}/languages`,
    stargazers_url: `${r}/stargazers`,
    contributors_url: `${r}/contributors`,
    subscribers_url: `${r}/subscribers`,
    subscription_url: `${r}/subscription`,
    commits_url: `${r}/commits{/sha}`,
    git_commits_url: `${r}/git/commits{/sha}`,
    comments_url: `${r}/comments{/number}`,
    issue_comment_url: `${r}/issues/comments{/number}`,
    contents_url: `${r}/contents/{+path}`,
    compare_url: `${r}/compare/{base}...{head}`,
    merges_url: `${r}/merges`,
    archive_url: `${r}/{archive_format}{/ref}`,
    downloads_url: `${r}/downloads`,
    issues_url: `${r}/issues{/number}`,
    pulls_url: `${r}/pulls{/number}`,
    milestones_url: `${r}/milestones{/number}`,
    notifications_url: `${r}/notifications{?since,all,participating}`,
    labels_url: `${r}/labels{/name}`,
    releases_url: `${r}/releases{/id}`,
    deployments_url: `${r}/deployments`,
    created_at: CREATED,
    updated_at: CREATED,
    pushed_at: CREATED,
    git_url: "git://github.com/octo/demo.git",
    ssh_url: "git@github.com:octo/demo.git",
    clone_url: `${WEB}/octo/demo.git`,
    svn_url: `${WEB}/octo/demo`,
    homepage: null,
    size: 1,
    stargazers_count: 0,
    watchers_count: 0,
    language: "TypeScript",
    has_issues: true,
    has_projects: false,
    has_downloads: true,
    has_wiki: false,
    has_pages: false,
    forks_count: 0,
    mirror_url: null,
    archived: false,
    open_issues_count: 1,
    license: null,
    forks: 0,
    open_issues: 1,
    watchers: 0,
    default_branch: "main",
    is_template: false,
    web_commit_signoff_required: false,
    topics: [],
    visibility: "public",
    custom_properties: {},
  };
}

function issuesLabeled(): Record<string, unknown> {
  const octocat = user("octocat", 1);
  const url = `${API}/repos/octo/demo/issues/1`;
  return {
    action: "labeled",
    issue: {
      url,
      repository_url: `${API}/repos/octo/demo`,
      labels_url: `${url}/labels{/name}`,
      comments_url: `${url}/comments`,
      events_url: `${url}/events`,
      html_url: `${WEB}/octo/demo/issues/1`,
      id: 1001,
      node_id: "I_1001",
      number: 1,
      title: "Make it faster",
      user: octocat,
      labels: [label()],
      state: "open",
      locked: false,
      assignee: null,
      assignees: [],
      milestone: null,
      comments: 0,
      created_at: CREATED,
      updated_at: CREATED,
      closed_at: null,
      author_association: "OWNER",
      active_lock_reason: null,
      body: "Please.",
      reactions: reactions(url),
    },
    label: label(),
    repository: repository(octocat),
    sender: octocat,
  };
}

function assertProblem(problems: SchemaProblem[], where: RegExp, message: RegExp): void {
  assert.ok(
    problems.some((p) => where.test(p.where) && message.test(p.message)),
    `expected a problem at ${where} matching ${message}, got ${JSON.stringify(problems, null, 2)}`,
  );
}

test("a complete issue comment response validates", () => {
  assert.deepEqual(getComment(issueComment()), []);
});

test("a missing required field is reported", () => {
  const body = issueComment();
  delete body.node_id;
  const problems = getComment(body);
  assertProblem(problems, /^GET \/repos\/\{owner\}\/\{repo\}\/issues\/comments\/\{comment_id\} 200 body$/, /must have required property 'node_id'/);
});

test("a nested missing field and a wrong type are reported with their JSON path", () => {
  const body = issueComment();
  const u = user("octocat", 1);
  delete u.login;
  body.user = u;
  body.id = "11";
  const problems = getComment(body);
  assertProblem(problems, / 200 body\/user$/, /must have required property 'login'/);
  assertProblem(problems, / 200 body\/id$/, /must be integer, got string "11"/);
});

test("nullable fields accept null but not other types", () => {
  assert.deepEqual(getComment({ ...issueComment(), user: null }), []);
  assertProblem(getComment({ ...issueComment(), user: "octocat" }), / 200 body\/user$/, /must be object/);
});

test("a wrong enum value is reported", () => {
  const problems = getComment({ ...issueComment(), author_association: "BOSS" });
  assertProblem(problems, / 200 body\/author_association$/, /must be one of .*"OWNER".*got string "BOSS"/);
});

test("a bad format is reported", () => {
  const problems = getComment({ ...issueComment(), created_at: "yesterday" });
  assertProblem(problems, / 200 body\/created_at$/, /must match format "date-time"/);
});

test("an undocumented status is reported", () => {
  const problems = validateRestResponse({ method: "PUT", route: "/repos/{owner}/{repo}/issues/{issue_number}/lock", status: 201, body: undefined });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!.message, /^status 201 not documented for PUT \/repos\/\{owner\}\/\{repo\}\/issues\/\{issue_number\}\/lock/);
});

test("documented error responses ($ref to components/responses) validate", () => {
  const notFound = { message: "Not Found", documentation_url: "https://docs.github.com/rest" };
  assert.deepEqual(getComment(notFound, 404), []);
  assertProblem(getComment({ documentation_url: 5 }, 404), / 404 body\/documentation_url$/, /must be string/);
});

test("204 responses must have an empty body", () => {
  const r = { method: "DELETE", route: COMMENT_ROUTE, status: 204 };
  assert.deepEqual(validateRestResponse({ ...r, body: undefined }), []);
  assert.deepEqual(validateRestResponse({ ...r, body: "" }), []);
  assertProblem(validateRestResponse({ ...r, body: { ok: true } }), / 204 body$/, /must be empty/);
});

test("list responses validate each item", () => {
  const route = "/repos/{owner}/{repo}/issues/{issue_number}/comments";
  assert.deepEqual(validateRestResponse({ method: "GET", route, status: 200, body: [issueComment(), issueComment()] }), []);
  const bad = issueComment();
  delete bad.url;
  assertProblem(validateRestResponse({ method: "GET", route, status: 200, body: [issueComment(), bad] }), / 200 body\/1$/, /required property 'url'/);
});

test("the installation list's account is a user or an enterprise, not both (a corrected mistake in the description)", () => {
  const installation = (account: Record<string, unknown>): Record<string, unknown> => ({
    id: 5, account, repository_selection: "all", access_tokens_url: `${API}/app/installations/5/access_tokens`,
    repositories_url: `${API}/installation/repositories`, html_url: `${WEB}/organizations/octo/settings/installations/5`,
    app_id: 1, target_id: 1, target_type: "Organization", permissions: { issues: "write" }, events: ["issues"],
    created_at: CREATED, updated_at: CREATED, single_file_name: null, app_slug: "bosun",
    suspended_by: null, suspended_at: null,
  });
  const list = (account: Record<string, unknown>): SchemaProblem[] =>
    validateRestResponse({ method: "GET", route: "/app/installations", status: 200, body: [installation(account)] });
  assert.deepEqual(list(user("octo", 1)), []);
  const broken = user("octo", 1);
  delete broken.login;
  assert.ok(list(broken).length > 0, "an account that is neither a user nor an enterprise is still reported");
});

test("problems are capped", () => {
  const problems = validateRestResponse({ method: "GET", route: "/repos/{owner}/{repo}", status: 200, body: {} });
  assert.ok(problems.length > 0 && problems.length <= 20, `${problems.length} problems`);
});

test("unknown operations are reported", () => {
  assert.equal(knownRestOperation("GET", COMMENT_ROUTE), true);
  assert.equal(knownRestOperation("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"), true);
  assert.equal(knownRestOperation("PUT", COMMENT_ROUTE), false);
  assert.equal(knownRestOperation("GET", "/repos/{owner}/{repo}/no-such-thing"), false);
  assert.equal(knownRestOperation("GET", "/repos/octo/demo/issues/comments/11"), false);
  const problems = validateRestResponse({ method: "GET", route: "/repos/octo/demo/issues/comments/11", status: 200, body: {} });
  assertProblem(problems, /^GET \/repos\/octo\/demo\/issues\/comments\/11$/, /unknown operation.*e\.g\. \/repos\/\{owner\}\/\{repo\}\/issues\/comments\/\{comment_id\}/);
});

test("a complete issues.labeled webhook validates", () => {
  assert.deepEqual(validateWebhook("issues", issuesLabeled()), []);
});

test("a webhook without sender fails", () => {
  const payload = issuesLabeled();
  delete payload.sender;
  const problems = validateWebhook("issues", payload);
  assertProblem(problems, /^webhook issues\.labeled payload$/, /must have required property 'sender'/);
});

test("webhook nested type errors, extra properties and enum values are reported", () => {
  const payload = issuesLabeled();
  payload.repository = { ...repository(user("octocat", 1)), visibility: "secret", surprise: 1 };
  const problems = validateWebhook("issues", payload);
  assertProblem(problems, /payload\/repository\/visibility$/, /must be one of/);
  assertProblem(problems, /payload\/repository$/, /must NOT have additional property 'surprise'/);
});

test("unknown webhook events and actions are reported", () => {
  assertProblem(validateWebhook("issues", { ...issuesLabeled(), action: "frobbed" }), /^webhook issues\.frobbed$/, /action 'frobbed' not documented/);
  assertProblem(validateWebhook("no_such_event", {}), /^webhook no_such_event$/, /unknown webhook event/);
  assertProblem(validateWebhook("ping", { zen: "Keep it logically awesome." }), /^webhook ping payload$/, /required property 'hook_id'/);
});
