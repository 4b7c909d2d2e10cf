#!/usr/bin/env node
// Bosun's wrapper around Anthropic's Claude Code (`agent.use: claude`, image bosun/agent-clis). It
// points Claude Code at the org's model (ANTHROPIC_BASE_URL from BOSUN_MODEL_BASE_URL, whose
// trailing /v1 it drops since Claude Code adds /v1/messages itself; the key from the variable
// BOSUN_MODEL_API_KEY_ENV names as ANTHROPIC_API_KEY; the org's model for every role Claude Code
// has), runs `claude -p --output-format stream-json` on the task's prompt in /workspace with
// permissions that let it edit and run commands without asking (Bosun's container is the
// sandbox), and turns its stream into Bosun's events: prompt, model_message per model response
// with that response's token counts, tool_call and tool_result. Claude Code reaches the model
// through Bosun's egress proxy (HTTPS_PROXY/HTTP_PROXY); its nonessential traffic (telemetry,
// error reports, update checks) is off. Its state lives in a fresh CLAUDE_CONFIG_DIR in the tmpfs
// home. The final message becomes /bosun/result.json (title: its first line).
import { cap, env, event, failer, jsonLine, modelSettings, privateDir, promptFor, readTask, runCli, say, writeResult } from "./cli-agent-common.mjs";

const fail = failer("claude");
const m = modelSettings();
if (!m.baseUrl || !m.model) fail("no model configured: the org's policy sets model.base_url and model.name for Claude Code");
const task = readTask();
const workspace = env.BOSUN_WORKSPACE ?? "/workspace";

const childEnv = {
  ...env,
  CLAUDE_CONFIG_DIR: privateDir(".bosun-claude-"),
  ANTHROPIC_BASE_URL: m.baseUrl.replace(/\/v1$/, ""),
  // An endpoint that takes no key (the org names no api_key_secret) gets a placeholder: Claude Code will not start without one.
  ANTHROPIC_API_KEY: m.apiKey || "bosun-no-key",
  ANTHROPIC_MODEL: m.model,
  ANTHROPIC_SMALL_FAST_MODEL: m.model,
  ANTHROPIC_DEFAULT_HAIKU_MODEL: m.model,
  ANTHROPIC_DEFAULT_SONNET_MODEL: m.model,
  ANTHROPIC_DEFAULT_OPUS_MODEL: m.model,
  CLAUDE_CODE_SUBAGENT_MODEL: m.model,
  CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
  DISABLE_AUTOUPDATER: "1",
  DISABLE_TELEMETRY: "1",
  DISABLE_ERROR_REPORTING: "1",
  // A model that errors or stops answering ends the run with a message, rather than retrying long.
  CLAUDE_CODE_MAX_RETRIES: "2",
  API_TIMEOUT_MS: String(Math.max(5, m.timeoutSeconds) * 1000),
  NO_COLOR: "1",
};
delete childEnv.ANTHROPIC_AUTH_TOKEN;

const prompt = promptFor(task);
const args = [
  "-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages",
  "--model", m.model, "--max-turns", String(m.maxSteps),
  "--permission-mode", "bypassPermissions",
  // A plan is read-only: no edits (Bosun pushes nothing in plan mode either way).
  ...(task.mode === "plan" ? ["--disallowedTools", "Edit", "Write", "NotebookEdit"] : []),
];

// ---- Claude Code's stream as Bosun's events ----
let prompted = false;
let pending = null; // the model response being streamed: { id, model, texts, calls, usage, stop }
const toolNames = new Map();
let finalMessage = "";
let result = null;
let tokens = 0;
let turns = 0;
let stopped = "";

function flush(child) {
  if (!pending) return;
  const p = pending;
  pending = null;
  turns++;
  const usage = { input_tokens: p.usage?.input_tokens ?? null, output_tokens: p.usage?.output_tokens ?? null };
  event("model_message", {
    step: turns, model: p.model, text: p.texts.join("\n"), tool_calls: p.calls.length, usage,
    cache_read_input_tokens: p.usage?.cache_read_input_tokens ?? null, cache_creation_input_tokens: p.usage?.cache_creation_input_tokens ?? null,
    finish_reason: p.stop ?? null,
  });
  for (const c of p.calls) event("tool_call", c);
  tokens += (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
  if (tokens > m.maxTokens && !stopped) {
    stopped = `used ${tokens} tokens without finishing, more than the org's model.max_tokens (${m.maxTokens})`;
    child.kill("SIGTERM");
  }
}

const start = (id, model, usage) => { pending = { id, model, texts: [], calls: [], usage, stop: null }; };
const textOf = (content) => (typeof content === "string" ? content
  : Array.isArray(content) ? content.map((b) => (typeof b === "string" ? b : b?.type === "text" ? b.text : b?.type ? `[${b.type}]` : "")).join("\n") : "");

function onLine(line, child) {
  const e = jsonLine(line);
  if (!e || typeof e.type !== "string") return say(line);
  switch (e.type) {
    case "system":
      if (e.subtype === "init" && !prompted) {
        prompted = true;
        event("prompt", { agent: "claude", model: e.model ?? m.model, user: prompt, tools: e.tools ?? [], permission_mode: e.permissionMode ?? null, cli_version: e.claude_code_version ?? null });
        return;
      }
      if (e.subtype === "status") return;
      return say(line);
    case "stream_event": {
      const s = e.event ?? {};
      if (s.type === "message_start") {
        flush(child);
        start(s.message?.id, s.message?.model ?? m.model, s.message?.usage);
      } else if (s.type === "message_delta" && pending) {
        if (s.usage) pending.usage = { ...pending.usage, ...s.usage };
        pending.stop = s.delta?.stop_reason ?? pending.stop;
      } else if (s.type === "message_stop") {
        flush(child);
      }
      return; // deltas: the complete blocks arrive as `assistant` events
    }
    case "assistant": {
      const msg = e.message ?? {};
      if (pending && msg.id && pending.id && msg.id !== pending.id) flush(child);
      if (!pending) start(msg.id, msg.model ?? m.model, msg.usage);
      for (const b of Array.isArray(msg.content) ? msg.content : []) {
        if (b.type === "text" && b.text) pending.texts.push(b.text);
        else if (b.type === "tool_use") {
          toolNames.set(b.id, b.name);
          pending.calls.push({ id: b.id, tool: b.name, input: b.input ?? {} });
        }
      }
      if (msg.stop_reason) pending.stop = msg.stop_reason;
      return;
    }
    case "user": {
      flush(child);
      const content = e.message?.content;
      for (const b of Array.isArray(content) ? content : []) {
        if (b?.type !== "tool_result") continue;
        event("tool_result", { id: b.tool_use_id, tool: toolNames.get(b.tool_use_id) ?? null, ok: b.is_error !== true, output: cap(textOf(b.content)) });
      }
      return;
    }
    case "result": {
      flush(child);
      result = e;
      if (typeof e.result === "string") finalMessage = e.result;
      const u = e.usage ?? {};
      event("model_message", {
        text: `${e.is_error ? "failed" : "finished"} after ${e.num_turns ?? turns} turns (${e.subtype ?? "done"})`,
        total_usage: { input_tokens: u.input_tokens ?? null, output_tokens: u.output_tokens ?? null },
        total_cost_usd: e.total_cost_usd ?? null, duration_ms: e.duration_ms ?? null,
      });
      return;
    }
    default:
      return say(line);
  }
}

const r = await runCli({ command: "claude", args, cwd: workspace, env: childEnv, input: prompt, onLine });
if (r.error) fail(r.error.code === "ENOENT" ? "the image has no `claude` (use bosun/agent-clis, BOSUN_CLI_AGENT_IMAGE)" : `could not start claude: ${r.error.message}`);
if (stopped) fail(stopped);
if (result?.subtype === "error_max_turns") fail(`stopped after ${m.maxSteps} turns without finishing (the org's model.max_steps)`);
if (r.code !== 0 || !result || result.is_error) {
  const why = (result && (result.result || (result.errors ?? []).join("; ") || result.subtype)) || r.stderrTail.slice(-3).join(" | ") || "no message";
  fail(`Claude Code failed (exit code ${r.code ?? r.signal}; model ${m.model} at ${new URL(childEnv.ANTHROPIC_BASE_URL).host}): ${why}`);
}
writeResult(finalMessage, task, "Claude Code finished without a final message.");
