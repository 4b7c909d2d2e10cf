// When Bosun's pull request may leave draft, and what its `bosun` check says, case by case.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRepoConfig } from "../../src/config/repo-config.ts";
import { parseOrgPolicy } from "../../src/config/org-policy.ts";
import { resolvePolicy } from "../../src/policy/effective-policy.ts";
import { protectedChanges, readiness } from "../../src/policy/readiness.ts";
import type { Run, RunFacts } from "../../src/runs/run.ts";

function policy(orgYaml: string, repoYaml: string | null = null) {
  const org = parseOrgPolicy(orgYaml);
  const cfg = parseRepoConfig(repoYaml);
  if (!org.ok || !cfg.ok) throw new Error("bad fixture");
  const r = resolvePolicy({ org: org.policy, repo: "app", config: cfg.config, raw: cfg.raw, operator: { image: "i", cliAgentImage: "c", defaultAgentCommand: "a", runtime: "runc", memoryMb: 1024, cpus: 1, pids: 100 }, presetHosts: () => [] });
  if (!r.ok) throw new Error(r.refusal.message);
  return r.policy;
}

function run(facts: RunFacts): Run {
  return { facts, id: "r", state: "publishing" } as Run;
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
  { name: "protected path, not approved", facts: { ...passed, protectedChanges: ["CODEOWNERS"], policy: policy("") }, draft: true, conclusion: "failure", title: "Changes protected paths; waiting for `/bosun approve`" },
  { name: "protected path, approved for this commit", facts: { ...passed, protectedChanges: ["CODEOWNERS"], protectedApproval: { by: "maya", at: "", sha }, policy: policy("") }, draft: false, conclusion: "success", title: "Tests passed; protected paths approved" },
  { name: "protected path, approved for another commit", facts: { ...passed, protectedChanges: ["CODEOWNERS"], protectedApproval: { by: "maya", at: "", sha: "b".repeat(40) }, policy: policy("") }, draft: true, conclusion: "failure", title: "Changes protected paths; waiting for `/bosun approve`" },
  { name: "everything at once", facts: { ...passed, testExitCode: 2, protectedChanges: [".github/bosun.yml"], gateMissing: ["x"], policy: policy("") }, draft: true, conclusion: "failure", title: "Tests failed; Changes protected paths; waiting for `/bosun approve`; Branch protection is missing settings" },
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
    protectedChanges([".github/workflows/ci.yml", ".github/workflows/deep/x.yaml", "CODEOWNERS", "src/CODEOWNERS", ".github/bosun.yml", "src/add.js", ".github/dependabot.yml"], globs),
    [".github/workflows/ci.yml", ".github/workflows/deep/x.yaml", "CODEOWNERS", ".github/bosun.yml"],
  );
});
