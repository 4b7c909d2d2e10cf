// The merge gate's decisions from facts, case by case: when Bosun's pull request may leave draft and
// what its `bosun` check says, which changes touch protected paths, whether a push needs approval,
// and which approvals satisfy `bosun/independent-review`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRepoConfig } from "../../src/config/repo-config.ts";
import { parseOrgPolicy } from "../../src/config/org-policy.ts";
import { resolvePolicy } from "../../src/policy/effective-policy.ts";
import { readiness } from "../../src/gate/readiness.ts";
import { protectedChanges } from "../../src/gate/protected-paths.ts";
import { pushApprovalNeeded, pushApprovalRefusal } from "../../src/gate/push-approval.ts";
import { decideIndependentReview } from "../../src/gate/independent-review.ts";
import type { Run, RunFacts } from "../../src/runs/run.ts";

function policy(orgYaml: string, repoYaml: string | null = null) {
  const org = parseOrgPolicy(orgYaml);
  const cfg = parseRepoConfig(repoYaml);
  if (!org.ok || !cfg.ok) throw new Error("bad fixture");
  const r = resolvePolicy({ org: org.policy, repo: "app", config: cfg.config, raw: cfg.raw, operator: { image: "i", cliAgentImage: "c", universalImage: "u", defaultAgentCommand: "a", runtime: "runc", memoryMb: 1024, cpus: 1, pids: 100, diskMb: 10240 }, presetHosts: () => [] });
  if (!r.ok) throw new Error(r.refusal.message);
  return r.policy;
}

function run(facts: RunFacts): Run {
  return { facts, id: "r", state: "publishing", requestedBy: "maya" } as Run;
}

const sha = "a".repeat(40);
const passed: RunFacts = { testCommand: "npm test", testExitCode: 0, testTimedOut: false, commitSha: sha, gateMissing: [] };

const cases: { name: string; facts: RunFacts; draft: boolean; conclusion: "success" | "failure"; title: string }[] = [
  { name: "tests pass, gate in place", facts: { ...passed, policy: policy("") }, draft: false, conclusion: "success", title: "Tests passed" },
  { name: "no test command", facts: { ...passed, testCommand: null, policy: policy("") }, draft: false, conclusion: "success", title: "No test command configured" },
  { name: "tests fail", facts: { ...passed, testExitCode: 1, policy: policy("") }, draft: true, conclusion: "failure", title: "Tests failed" },
  { name: "tests time out", facts: { ...passed, testTimedOut: true, testExitCode: 137, policy: policy("") }, draft: true, conclusion: "failure", title: "Tests failed" },
  { name: "gate missing, required", facts: { ...passed, gateMissing: ["Protect the branch"], policy: policy("") }, draft: true, conclusion: "failure", title: "Branch protection is missing settings" },
  { name: "gate missing, not required by the org", facts: { ...passed, gateMissing: ["Protect the branch"], policy: policy("require_protection_gate: false\n") }, draft: false, conclusion: "success", title: "Tests passed" },
  { name: "the repository asks for drafts", facts: { ...passed, policy: policy("", "pull_request:\n  draft: true\n") }, draft: true, conclusion: "success", title: "Tests passed" },
  { name: "protected path, not approved", facts: { ...passed, protectedChanges: ["CODEOWNERS"], policy: policy("") }, draft: true, conclusion: "failure", title: "Changes protected paths that nobody approved" },
  { name: "protected path, approved for this commit", facts: { ...passed, protectedChanges: ["CODEOWNERS"], pushApproval: { by: "maya", at: "", sha }, policy: policy("") }, draft: false, conclusion: "success", title: "Tests passed; protected paths approved" },
  { name: "protected path, approved for another commit", facts: { ...passed, protectedChanges: ["CODEOWNERS"], pushApproval: { by: "maya", at: "", sha: "b".repeat(40) }, policy: policy("") }, draft: true, conclusion: "failure", title: "Changes protected paths that nobody approved" },
  { name: "everything at once", facts: { ...passed, testExitCode: 2, protectedChanges: [".github/bosun.yml"], gateMissing: ["x"], policy: policy("") }, draft: true, conclusion: "failure", title: "Tests failed; Changes protected paths that nobody approved; Branch protection is missing settings" },
];

for (const c of cases) {
  test(`readiness: ${c.name}`, () => {
    const r = readiness(run(c.facts));
    assert.equal(r.draft, c.draft);
    assert.equal(r.check.conclusion, c.conclusion);
    assert.equal(r.check.title, c.title);
  });
}

test("protected paths match the policy's globs, dotfiles included, from the root", () => {
  const globs = policy("").rules.protected_paths;
  assert.deepEqual(
    protectedChanges([".github/workflows/ci.yml", ".github/workflows/deep/x.yaml", "CODEOWNERS", "src/CODEOWNERS", ".github/bosun.yml", "src/add.js", ".github/dependabot.yml"].map((path) => ({ path })), globs),
    [".github/workflows/ci.yml", ".github/workflows/deep/x.yaml", "CODEOWNERS", ".github/bosun.yml"],
  );
});

test("protected paths match through the folders they live in and symbolic links into them", () => {
  const globs = policy("").rules.protected_paths;
  const entries = (paths: string[]) => paths.map((path) => ({ path }));
  // `.github/workflows` (or `.github`) replaced by a file or a link: the folder itself is the changed path.
  assert.deepEqual(protectedChanges(entries([".github/workflows", ".github", ".github/actions", "src/.github"]), globs), [".github/workflows", ".github", ".github/actions"]);
  // A renamed workflow folder shows as its files' deletions.
  assert.deepEqual(protectedChanges(entries([".github/workflows/ci.yml", "ci/ci.yml"]), globs), [".github/workflows/ci.yml"]);
  // A link elsewhere that points into a protected folder or at a protected file; a link out of the repository does not.
  assert.deepEqual(protectedChanges([
    { path: "tools/wf", symlinkTarget: "../.github/workflows" },
    { path: "owners", symlinkTarget: "CODEOWNERS" },
    { path: "docs/link", symlinkTarget: "../.github/actions/setup/action.yml" },
    { path: "src/ok", symlinkTarget: "../lib/ok.js" },
    { path: "src/out", symlinkTarget: "../../etc/passwd" },
  ], globs), ["tools/wf", "owners", "docs/link"]);
  assert.deepEqual(protectedChanges(entries([".github/actions/setup/action.yml"]), globs), [".github/actions/setup/action.yml"]);
});

test("a push needs an approval by default, and always for protected paths", () => {
  const base = { ...passed, policy: policy("") };
  assert.deepEqual([pushApprovalNeeded(run(base)).needed, pushApprovalNeeded(run(base)).approved], [true, false]);
  assert.equal(pushApprovalNeeded(run({ ...base, pushApproval: { by: "owen", at: "", sha } })).approved, true);
  assert.equal(pushApprovalNeeded(run({ ...base, pushApproval: { by: "owen", at: "", sha: "b".repeat(40) } })).approved, false, "an approval of another commit does not count");
  const pushFirst = { ...passed, policy: policy("push_before_approval: true\n") };
  assert.equal(pushApprovalNeeded(run(pushFirst)).needed, false);
  assert.equal(pushApprovalNeeded(run({ ...pushFirst, protectedChanges: [".github/workflows/x.yml"] })).needed, true, "protected paths wait whatever the org says");
  assert.match(pushApprovalRefusal(run(base), { login: "Maya", id: null }) ?? "", /you asked for this run/);
  assert.equal(pushApprovalRefusal(run(base), { login: "owen", id: null }), null);
  // Renamed since: the same account by its id.
  assert.match(pushApprovalRefusal(run({ ...base, requesterId: 42 }), { login: "maya-renamed", id: 42 }) ?? "", /you asked for this run/);
  assert.equal(pushApprovalRefusal(run({ ...base, requesterId: 42 }), { login: "maya", id: 43 }), null, "another account that took the old login");
});

test("bosun/independent-review counts only approvals of the head by someone who neither asked nor pushed", async () => {
  const head = "c".repeat(40), old = "d".repeat(40);
  const roles: Record<string, string> = { owen: "write", maya: "admin", rita: "read", paul: "write", quinn: "maintain" };
  const facts = { head, requesters: [{ login: "maya", id: 1 }, { login: "paul", id: 2 }], pushers: [{ login: "quinn", id: 3 }], roleOf: (l: string) => Promise.resolve(roles[l] ?? "none") };
  const ids: Record<string, number> = { maya: 1, paul: 2, quinn: 3, owen: 4, rita: 5, "maya-renamed": 1 };
  const decide = (reviews: { user: string; state: string; commitId: string }[]) => decideIndependentReview(reviews.map((r) => ({ ...r, userId: ids[r.user] ?? null })), facts);
  assert.equal((await decide([{ user: "owen", state: "APPROVED", commitId: head }])).satisfied, true);
  const stale = await decide([{ user: "owen", state: "APPROVED", commitId: old }]);
  assert.equal(stale.satisfied, false);
  assert.match(stale.reason, /@owen approved dddddd.*head commit only/);
  assert.equal((await decide([{ user: "maya", state: "APPROVED", commitId: head }])).satisfied, false, "the original requester");
  assert.equal((await decide([{ user: "paul", state: "APPROVED", commitId: head }])).satisfied, false, "a follow-up's requester");
  assert.match((await decide([{ user: "quinn", state: "APPROVED", commitId: head }])).reason, /pushed to this branch/);
  assert.match((await decide([{ user: "rita", state: "APPROVED", commitId: head }])).reason, /read access/);
  assert.equal((await decide([{ user: "owen", state: "COMMENTED", commitId: head }])).satisfied, false, "a comment is not an approval");
  assert.equal((await decide([{ user: "owen", state: "APPROVED", commitId: head }, { user: "owen", state: "DISMISSED", commitId: head }])).satisfied, false, "a dismissed approval");
  assert.equal((await decide([{ user: "bosun[bot]", state: "APPROVED", commitId: head }])).satisfied, false);
  roles["maya-renamed"] = "admin";
  assert.match((await decide([{ user: "maya-renamed", state: "APPROVED", commitId: head }])).reason, /asked for a run/, "a requester who renamed their account");
});
