// The dashboard's one line per event, and the progress comment's link to the run's page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { describeEvent } from "../../src/audit/describe-event.ts";
import { renderProgress } from "../../src/github/progress-comment.ts";
import type { Run } from "../../src/runs/run.ts";

test("each kind of event reads as one line a person can skim", () => {
  const cases: [Parameters<typeof describeEvent>[0], string][] = [
    [{ kind: "state", payload: { from: "publishing", to: "succeeded", outcome: "Pull request #2 is ready" } }, "publishing → succeeded (Pull request #2 is ready)"],
    [{ kind: "command", payload: { phase: "agent", command: "node agent.mjs", network: "allowlist" } }, "agent: node agent.mjs (network: allowlist)"],
    [{ kind: "command", payload: { phase: "setup", exit_code: 0, timed_out: false } }, "setup: exited 0"],
    [{ kind: "command", payload: { phase: "agent", exit_code: 137, timed_out: true } }, "agent: timed out"],
    [{ kind: "agent_output", payload: { line: "reading src/add.js", source: "agent" } }, "agent: reading src/add.js"],
    [{ kind: "network", payload: { phase: "agent", host: "evil.bosun.test", port: 80, allowed: false, reason: "not in the allowlist" } }, "agent: refused evil.bosun.test:80 (not in the allowlist)"],
    [{ kind: "token_minted", payload: { purpose: "fetch", permissions: { contents: "read", issues: "read" } } }, "token minted for fetch: contents:read, issues:read"],
    [{ kind: "test", payload: { command: "npm test", exit_code: 1, timed_out: false } }, "test npm test: failed (exit 1)"],
    [{ kind: "file_diff", payload: { files: [{ path: "src/add.js", status: "M" }] } }, "diff: 1 file(s) M src/add.js"],
    [{ kind: "pull_request", payload: { number: 2, draft: true, title: "Fix add" } }, "pull request #2 (draft): Fix add"],
    [{ kind: "error", payload: { message: "boom", source: "agent" } }, "agent: error: boom"],
    [{ kind: "command", payload: { phase: "setup", purpose: "tests", cache: "restored", saved_by_run: "r1", saved_at: "2026-12-08T00:00:00.000Z", bytes: 3 * 1024 * 1024 } }, "setup for the tests: restored from the cache saved by run r1 at 2026-12-08T00:00:00.000Z 3.0 MB; the command did not run"],
    [{ kind: "command", payload: { phase: "setup", cache: "none", reason: "these files differ from the last cache's: package-lock.json" } }, "setup: no cache fits, so it runs (these files differ from the last cache's: package-lock.json)"],
    [{ kind: "command", payload: { phase: "setup", cache: "restore failed", reason: "restoring the cache failed: x; setup runs instead" } }, "setup: cache restore failed (restoring the cache failed: x; setup runs instead)"],
  ];
  for (const [event, line] of cases) assert.equal(describeEvent(event), line, event.kind);
});

test("what the agent printed reads as the agent's, whatever Bosun kind it claims", () => {
  const agent = { source: "agent", bosun_attempt: 1 };
  const cases: [Parameters<typeof describeEvent>[0], string][] = [
    [{ kind: "command", payload: { ...agent, phase: "test", exit_code: 0 } }, "agent: ran a command [test] (it says: exit 0)"],
    [{ kind: "command", payload: { ...agent, phase: "setup", cache: "restored", saved_by_run: "r1" } }, "agent: ran a command [setup]"],
    [{ kind: "command", payload: { ...agent, phase: "agent", reattached: true } }, "agent: ran a command [agent]"],
    [{ kind: "command", payload: { ...agent, command: "npm test", timed_out: true } }, "agent: ran npm test (it says: timed out)"],
    [{ kind: "prompt", payload: { ...agent, model: "m1" } }, "agent: prompt to the model (m1)"],
    [{ kind: "tool_call", payload: { ...agent, tool: "read_file", input: { path: "a" } } }, 'agent: tool read_file {"path":"a"}'],
    [{ kind: "model_message", payload: { ...agent, text: "test: exited 0" } }, "agent: test: exited 0"],
  ];
  for (const [event, line] of cases) assert.equal(describeEvent(event), line, JSON.stringify(event.payload));
});

test("the progress comment links the run to its dashboard page when Bosun's public URL is set", () => {
  const run = { id: "6a26a442-704b-4cd5-a0ee-4a1666f9d2c1", state: "running", mode: "pull_request", requestedBy: "maya", createdAt: new Date(0), facts: {} } as unknown as Run;
  assert.match(renderProgress(run, new Date(1000), "https://bosun.example.com/"), /\| Run \| \[`6a26a442-704b-4cd5-a0ee-4a1666f9d2c1`\]\(https:\/\/bosun\.example\.com\/runs\/6a26a442-704b-4cd5-a0ee-4a1666f9d2c1\) \|/);
  assert.match(renderProgress(run, new Date(1000)), /\| Run \| `6a26a442-704b-4cd5-a0ee-4a1666f9d2c1` \|/);
});
