// The Codex and Claude Code wrappers without Docker or a model: a stand-in `codex` or `claude` on
// PATH records how it was started and prints a canned event stream (shaped like the pinned CLIs'
// own, as test/e2e/codex-agent.test.ts and claude-agent.test.ts see them); the wrapper's stdout
// must be Bosun's events, its result file the final message's title and summary, and a failure
// a non-zero exit with a last line that says why.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const agentsDir = resolve(import.meta.dirname, "../../agents");

/** A stand-in CLI: records argv, stdin and the environment it got, prints `events` (JSON lines), exits with `exit`. */
function fakeCli(dir: string, name: string, events: unknown[], exit = 0): void {
  const script = [
    "#!/usr/bin/env node",
    'const fs = require("node:fs");',
    `const stdin = fs.readFileSync(0, "utf8");`,
    `fs.writeFileSync(${JSON.stringify(join(dir, "record.json"))}, JSON.stringify({ argv: process.argv.slice(2), stdin, env: process.env, cwd: process.cwd() }));`,
    `for (const e of ${JSON.stringify(events)}) process.stdout.write(JSON.stringify(e) + "\\n");`,
    `process.exit(${exit});`,
  ].join("\n");
  writeFileSync(join(dir, name), script);
  chmodSync(join(dir, name), 0o755);
  writeFileSync(join(dir, "package.json"), '{"type":"commonjs"}');
}

interface Outcome { code: number | null; lines: string[]; events: Record<string, unknown>[]; result: Record<string, unknown> | null; record: { argv: string[]; stdin: string; env: Record<string, string>; cwd: string } | null; last: string }

function runWrapper(t: { after: (fn: () => void) => void }, agent: "codex" | "claude", stream: unknown[], o: { exit?: number; mode?: string; env?: Record<string, string> } = {}): Outcome {
  const dir = mkdtempSync(join(tmpdir(), `bosun-${agent}-wrapper-`));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  fakeCli(dir, agent, stream, o.exit ?? 0);
  const task = { run_id: "r1", repository: "acme/widgets", mode: o.mode ?? "pull_request", issue: { number: 7, title: "add() subtracts", author: "maya", body: "…", comments: [] }, instructions: "", test_command: "npm test", limits: { timeout_minutes: 30 }, prompt: "You are working on acme/widgets. Fix add()." };
  writeFileSync(join(dir, "task.json"), JSON.stringify(task));
  const r = spawnSync(process.execPath, [join(agentsDir, `${agent}-agent.mjs`)], {
    encoding: "utf8",
    env: {
      PATH: `${dir}:${process.env["PATH"] ?? ""}`, HOME: dir, BOSUN_TASK: join(dir, "task.json"), BOSUN_RESULT: join(dir, "result.json"), BOSUN_WORKSPACE: dir,
      BOSUN_MODEL_BASE_URL: "http://models.acme.test:8080/v1", BOSUN_MODEL: "acme-coder", BOSUN_MODEL_API_KEY_ENV: "MODEL_KEY", MODEL_KEY: "sk-unit",
      BOSUN_AGENT_MAX_STEPS: "10", BOSUN_AGENT_MAX_TOKENS: "100000", BOSUN_MODEL_TIMEOUT_SECONDS: "30", ...o.env,
    },
  });
  const lines = r.stdout.trimEnd().split("\n");
  const events = lines.flatMap((l) => { try { const v = JSON.parse(l) as Record<string, unknown>; return typeof v["type"] === "string" ? [v] : []; } catch { return []; } });
  const resultPath = join(dir, "result.json");
  const recordPath = join(dir, "record.json");
  return {
    code: r.status, lines, events, last: lines.at(-1) ?? "",
    result: existsSync(resultPath) ? JSON.parse(readFileSync(resultPath, "utf8")) as Record<string, unknown> : null,
    record: existsSync(recordPath) ? JSON.parse(readFileSync(recordPath, "utf8")) as Outcome["record"] : null,
  };
}

const of = (o: Outcome, type: string) => o.events.filter((e) => e["type"] === type);

const codexStream = [
  { type: "thread.started", thread_id: "t1" },
  { type: "turn.started" },
  { type: "item.completed", item: { id: "item_0", type: "agent_message", text: "Let me look." } },
  { type: "item.started", item: { id: "item_1", type: "command_execution", command: "/bin/bash -lc 'cat src/add.js'", aggregated_output: "", exit_code: null, status: "in_progress" } },
  { type: "item.completed", item: { id: "item_1", type: "command_execution", command: "/bin/bash -lc 'cat src/add.js'", aggregated_output: "return a - b;\n", exit_code: 0, status: "completed" } },
  { type: "item.started", item: { id: "item_2", type: "file_change", changes: [{ path: "/w/src/add.js", kind: "update" }], status: "in_progress" } },
  { type: "item.completed", item: { id: "item_2", type: "file_change", changes: [{ path: "/w/src/add.js", kind: "update" }], status: "completed" } },
  { type: "item.completed", item: { id: "item_3", type: "command_execution", command: "npm test", aggregated_output: "1 failed\n", exit_code: 1, status: "failed" } },
  { type: "item.completed", item: { id: "item_4", type: "agent_message", text: "# Fix add() to add\n\nIt subtracted." } },
  { type: "turn.completed", usage: { input_tokens: 4200, cached_input_tokens: 100, output_tokens: 140, reasoning_output_tokens: 0 } },
];

test("codex: Bosun's model as Codex's only provider, its events as Bosun's, the final message as the result", (t) => {
  const o = runWrapper(t, "codex", codexStream);
  assert.equal(o.code, 0, o.lines.join("\n"));
  assert.ok(o.record);
  assert.deepEqual(o.record.argv.slice(0, 1), ["exec"]);
  for (const flag of ["--json", "--dangerously-bypass-approvals-and-sandbox", "--skip-git-repo-check", "--ephemeral"]) assert.ok(o.record.argv.includes(flag), flag);
  assert.equal(o.record.argv.at(-1), "-", "the prompt comes on stdin");
  assert.match(o.record.stdin, /^You are working on acme\/widgets\. Fix add\(\)\.[\s\S]*test command is: npm test[\s\S]*first line is a pull request title/);
  const config = readFileSync(join(o.record.env["CODEX_HOME"] ?? "", "config.toml"), "utf8");
  for (const line of ['model = "acme-coder"', 'model_provider = "bosun"', 'base_url = "http://models.acme.test:8080/v1"', 'wire_api = "responses"', 'env_key = "MODEL_KEY"', 'approval_policy = "never"', "plugins = false", "check_for_update_on_startup = false", 'web_search = "disabled"']) {
    assert.ok(config.includes(line), `config.toml has ${line}:\n${config}`);
  }
  assert.ok(!config.includes("sk-unit"), "the key stays in the environment, not in the file");
  assert.ok(o.record.env["CODEX_HOME"]?.startsWith(o.record.env["HOME"] ?? "?"), "Codex's state is in the home");

  assert.equal(of(o, "prompt")[0]?.["agent"], "codex");
  assert.deepEqual(of(o, "tool_call").map((e) => [e["id"], e["tool"]]), [["item_1", "shell"], ["item_2", "apply_patch"], ["item_3", "shell"]]);
  assert.deepEqual(of(o, "tool_result").map((e) => [e["id"], e["ok"]]), [["item_1", true], ["item_2", true], ["item_3", false]]);
  assert.match(String(of(o, "tool_result")[0]?.["output"]), /^exit code: 0\nreturn a - b;/);
  const messages = of(o, "model_message");
  assert.deepEqual(messages.filter((e) => e["usage"]).map((e) => e["usage"]), [{ input_tokens: 4200, output_tokens: 140 }]);
  assert.deepEqual(messages.filter((e) => e["text"]).map((e) => e["text"]).slice(0, 2), ["Let me look.", "# Fix add() to add\n\nIt subtracted."]);
  assert.ok(o.lines.includes(JSON.stringify(codexStream[0])), "other lines pass through as output");
  assert.deepEqual(o.result, { title: "Fix add() to add", summary: "It subtracted." });
});

test("codex: a failed turn, too many steps, no model: a non-zero exit and a last line that says why", (t) => {
  const failed = runWrapper(t, "codex", [
    { type: "turn.started" },
    { type: "error", message: "Reconnecting... 1/1 (server error)" },
    { type: "turn.failed", error: { message: "unexpected status 401 Unauthorized" } },
  ], { exit: 1 });
  assert.equal(failed.code, 1);
  assert.equal(failed.last, "codex agent: Codex failed (exit code 1; model acme-coder at models.acme.test:8080): unexpected status 401 Unauthorized");
  assert.equal(failed.result, null);

  const recovered = runWrapper(t, "codex", [{ type: "error", message: "Reconnecting... 1/1" }, ...codexStream.slice(2)]);
  assert.equal(recovered.code, 0, "an error Codex recovered from does not fail the run");

  const long = runWrapper(t, "codex", codexStream, { env: { BOSUN_AGENT_MAX_STEPS: "2" } });
  assert.equal(long.code, 1);
  assert.match(long.last, /^codex agent: stopped after 2 steps without finishing \(the org's model\.max_steps/);

  const none = runWrapper(t, "codex", codexStream, { env: { BOSUN_MODEL_BASE_URL: "" } });
  assert.equal(none.code, 1);
  assert.match(none.last, /^codex agent: no model configured/);
  assert.equal(none.record, null, "Codex never started");

  const missing = runWrapper(t, "codex", codexStream, { env: { PATH: "/nonexistent" } });
  assert.match(missing.last, /^codex agent: the image has no `codex`/);
});

const sid = { session_id: "s1" };
const claudeStream = [
  { type: "system", subtype: "init", model: "acme-coder", tools: ["Bash", "Edit", "Read"], permissionMode: "bypassPermissions", claude_code_version: "2.1.332", ...sid },
  { type: "stream_event", event: { type: "message_start", message: { id: "msg_1", model: "acme-coder", usage: { input_tokens: 900, output_tokens: 1 } } }, ...sid },
  { type: "assistant", message: { id: "msg_1", model: "acme-coder", content: [{ type: "text", text: "Let me look." }], usage: { input_tokens: 900, output_tokens: 1 } }, ...sid },
  { type: "assistant", message: { id: "msg_1", model: "acme-coder", content: [{ type: "tool_use", id: "toolu_1", name: "Read", input: { file_path: "/w/src/add.js" } }], usage: { input_tokens: 900, output_tokens: 1 } }, ...sid },
  { type: "stream_event", event: { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { input_tokens: 900, output_tokens: 30 } }, ...sid },
  { type: "stream_event", event: { type: "message_stop" }, ...sid },
  { type: "user", message: { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "1\treturn a - b;", is_error: false }] }, ...sid },
  { type: "stream_event", event: { type: "message_start", message: { id: "msg_2", model: "acme-coder", usage: { input_tokens: 1000, output_tokens: 1 } } }, ...sid },
  { type: "assistant", message: { id: "msg_2", model: "acme-coder", content: [{ type: "tool_use", id: "toolu_2", name: "Edit", input: { file_path: "/w/src/add.js", old_string: "-", new_string: "+" } }] }, ...sid },
  { type: "stream_event", event: { type: "message_delta", delta: { stop_reason: "tool_use" }, usage: { input_tokens: 1000, output_tokens: 40 } }, ...sid },
  { type: "stream_event", event: { type: "message_stop" }, ...sid },
  { type: "user", message: { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_2", content: [{ type: "text", text: "String not found" }], is_error: true }] }, ...sid },
  { type: "system", subtype: "api_retry", attempt: 1, ...sid },
  { type: "stream_event", event: { type: "message_start", message: { id: "msg_3", model: "acme-coder", usage: { input_tokens: 1100, output_tokens: 1 } } }, ...sid },
  { type: "assistant", message: { id: "msg_3", model: "acme-coder", content: [{ type: "text", text: "Fix add() to add\n\nIt subtracted." }] }, ...sid },
  { type: "stream_event", event: { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { input_tokens: 1100, output_tokens: 50 } }, ...sid },
  { type: "stream_event", event: { type: "message_stop" }, ...sid },
  { type: "result", subtype: "success", is_error: false, num_turns: 3, result: "Fix add() to add\n\nIt subtracted.", usage: { input_tokens: 3000, output_tokens: 120 }, total_cost_usd: 0.01, ...sid },
];

test("claude: the org's model for Claude Code, each response with its own token counts, the final message as the result", (t) => {
  const o = runWrapper(t, "claude", claudeStream);
  assert.equal(o.code, 0, o.lines.join("\n"));
  assert.ok(o.record);
  const argv = o.record.argv.join(" ");
  assert.match(argv, /^-p --output-format stream-json --verbose --include-partial-messages --model acme-coder --max-turns 10 --permission-mode bypassPermissions$/);
  assert.match(o.record.stdin, /Fix add\(\)\.[\s\S]*first line is a pull request title/);
  const env = o.record.env;
  assert.equal(env["ANTHROPIC_BASE_URL"], "http://models.acme.test:8080", "without the /v1 Claude Code adds itself");
  assert.equal(env["ANTHROPIC_API_KEY"], "sk-unit");
  assert.equal(env["ANTHROPIC_SMALL_FAST_MODEL"], "acme-coder");
  assert.equal(env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"], "1");
  assert.ok(env["CLAUDE_CONFIG_DIR"]?.startsWith(env["HOME"] ?? "?"));

  assert.deepEqual(of(o, "prompt").map((e) => [e["agent"], e["tools"]]), [["claude", ["Bash", "Edit", "Read"]]]);
  const messages = of(o, "model_message").filter((e) => e["usage"]);
  assert.deepEqual(messages.map((e) => [e["text"], e["usage"], e["tool_calls"]]), [
    ["Let me look.", { input_tokens: 900, output_tokens: 30 }, 1],
    ["", { input_tokens: 1000, output_tokens: 40 }, 1],
    ["Fix add() to add\n\nIt subtracted.", { input_tokens: 1100, output_tokens: 50 }, 0],
  ]);
  assert.deepEqual(of(o, "tool_call").map((e) => [e["id"], e["tool"]]), [["toolu_1", "Read"], ["toolu_2", "Edit"]]);
  assert.deepEqual(of(o, "tool_result").map((e) => [e["id"], e["tool"], e["ok"], e["output"]]), [["toolu_1", "Read", true, "1\treturn a - b;"], ["toolu_2", "Edit", false, "String not found"]]);
  const order = o.events.map((e) => e["type"]).filter((x) => x !== "prompt");
  assert.deepEqual(order.slice(0, 4), ["model_message", "tool_call", "tool_result", "model_message"], "a response, its calls, their results");
  assert.ok(o.lines.some((l) => l.includes('"api_retry"')), "other lines pass through as output");
  assert.deepEqual(o.result, { title: "Fix add() to add", summary: "It subtracted." });
});

test("claude: a plan takes away the editing tools and keeps the whole message; failures say why", (t) => {
  const plan = runWrapper(t, "claude", claudeStream, { mode: "plan" });
  assert.equal(plan.code, 0);
  assert.match(plan.record?.argv.join(" ") ?? "", /--disallowedTools Edit Write NotebookEdit/);
  assert.deepEqual(plan.result, { summary: "Fix add() to add\n\nIt subtracted." });

  const apiError = runWrapper(t, "claude", [
    claudeStream[0],
    { type: "result", subtype: "success", is_error: true, num_turns: 1, result: "API Error: 500 overloaded", usage: {}, ...sid },
  ], { exit: 1 });
  assert.equal(apiError.code, 1);
  assert.equal(apiError.last, "claude agent: Claude Code failed (exit code 1; model acme-coder at models.acme.test:8080): API Error: 500 overloaded");

  const turns = runWrapper(t, "claude", [claudeStream[0], { type: "result", subtype: "error_max_turns", is_error: true, num_turns: 10, ...sid }], { exit: 1 });
  assert.match(turns.last, /^claude agent: stopped after 10 turns without finishing \(the org's model\.max_steps\)/);

  const tokens = runWrapper(t, "claude", claudeStream, { env: { BOSUN_AGENT_MAX_TOKENS: "1000" } });
  assert.equal(tokens.code, 1);
  assert.match(tokens.last, /^claude agent: used 1970 tokens without finishing, more than the org's model\.max_tokens \(1000\)/);

  const keyless = runWrapper(t, "claude", claudeStream, { env: { BOSUN_MODEL_API_KEY_ENV: "" } });
  assert.equal(keyless.record?.env["ANTHROPIC_API_KEY"], "bosun-no-key", "a placeholder for an endpoint that takes no key");
});
