// .github/bosun.yml: defaults, and problems that name the file, line and key.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRepoConfig } from "../../src/config/repo-config.ts";

test("no file means every default", () => {
  const r = parseRepoConfig(null);
  assert.ok(r.ok);
  assert.deepEqual(r.config, {
    trigger_labels: { pull_request: "bosun", plan: "bosun:plan" },
    agent: { timeout_minutes: 30, inactivity_minutes: 10 },
    setup: { command: null, timeout_minutes: 15, cache: { enabled: true, key_files: [] } },
    test: { command: null, timeout_minutes: 15 },
    pull_request: { labels: ["bosun"], draft: false },
    sandbox: {},
    instructions: "",
  });
});

test("settings are read", () => {
  const r = parseRepoConfig("agent:\n  command: make fix\ntest:\n  command: npm test\n  timeout_minutes: 5\n");
  assert.ok(r.ok);
  assert.equal(r.config.agent.command, "make fix");
  assert.equal(r.config.test.command, "npm test");
  assert.equal(r.config.test.timeout_minutes, 5);
});

test("a wrong type names its line and key", () => {
  const r = parseRepoConfig("test:\n  command: npm test\n  timeout_minutes: soon\n");
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => [p.file, p.line, p.key]), [[".github/bosun.yml", 3, "test.timeout_minutes"]]);
  assert.match(r.problems[0]?.message ?? "", /number/);
});

test("an unknown key is an error at its own line", () => {
  const r = parseRepoConfig("agent:\n  timeout_minutes: 10\n  comand: typo\n");
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => [p.line, p.key, p.message]), [[3, "agent.comand", 'unknown setting "comand"']]);
});

test("broken YAML names its line", () => {
  const r = parseRepoConfig("test:\n  command: [unclosed\n");
  assert.ok(!r.ok);
  assert.equal(r.problems[0]?.file, ".github/bosun.yml");
  assert.ok((r.problems[0]?.line ?? 0) >= 2);
});
