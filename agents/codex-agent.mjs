#!/usr/bin/env node
// Bosun's wrapper around OpenAI's Codex CLI (`agent.use: codex`, image bosun/agent-clis). It
// points Codex at the org's model (a `model_providers` entry speaking the Responses API at
// BOSUN_MODEL_BASE_URL, its key in the variable BOSUN_MODEL_API_KEY_ENV names), runs
// `codex exec --json` on the task's prompt in /workspace with no approvals and no sandbox of its
// own (Bosun's container is the sandbox), and turns Codex's JSONL events into Bosun's: prompt,
// model_message (Codex reports token counts per turn), tool_call and tool_result. Codex reaches
// the model through Bosun's egress proxy (HTTP_PROXY/HTTPS_PROXY, which it honours for http and
// https alike); its own side traffic (update checks, analytics, plugin catalogues) is switched
// off, so the model's host is the only destination. Its state lives in a fresh CODEX_HOME in the
// tmpfs home. The final message becomes /bosun/result.json (title: its first line).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { clearInterval, setInterval } from "node:timers";
import { cap, env, event, failer, jsonLine, modelSettings, privateDir, promptFor, readTask, runCli, say, writeResult } from "./cli-agent-common.mjs";

const fail = failer("codex");
const m = modelSettings();
if (!m.baseUrl || !m.model) fail("no model configured: the org's policy sets model.base_url and model.name for Codex");
const task = readTask();
const workspace = env.BOSUN_WORKSPACE ?? "/workspace";

// ---- Codex's configuration: the org's model as the only provider, nothing else reaching out ----
const toml = (v) => JSON.stringify(String(v)); // a TOML basic string (JSON's escapes are TOML's)
const codexHome = privateDir(".bosun-codex-");
const config = [
  `model = ${toml(m.model)}`,
  `model_provider = "bosun"`,
  `approval_policy = "never"`,
  `sandbox_mode = "danger-full-access"`,
  `check_for_update_on_startup = false`,
  `web_search = "disabled"`,
  "",
  "[model_providers.bosun]",
  `name = "the org's model (Bosun)"`,
  `base_url = ${toml(m.baseUrl)}`,
  `wire_api = "responses"`,
  ...(m.keyEnv ? [`env_key = ${toml(m.keyEnv)}`] : []),
  // A model that errors or stops answering ends the run with a message, rather than retrying long.
  "request_max_retries = 1",
  "stream_max_retries = 1",
  `stream_idle_timeout_ms = ${Math.max(5, m.timeoutSeconds) * 1000}`,
  "",
  "[analytics]",
  "enabled = false",
  "",
  "[feedback]",
  "enabled = false",
  "",
  // The plugin catalogue is what reaches github.com, api.github.com and chatgpt.com.
  "[features]",
  "plugins = false",
  "",
].join("\n");
writeFileSync(join(codexHome, "config.toml"), config);

const prompt = promptFor(task);
event("prompt", { agent: "codex", model: m.model, user: prompt, model_base_url: m.baseUrl });

// ---- Codex's events as Bosun's ----
const started = new Map(); // item id → tool name, for calls whose start was reported
const running = new Set(); // tools at work (a plan, reported as started until the turn ends, is not one)
let finalMessage = "";
let failure = ""; // why the turn failed (turn.failed), or a budget it overran
let lastError = ""; // the latest error Codex reported on the way (it may have recovered since)
let steps = 0;
let stopped = "";

function toolOf(item) {
  switch (item.type) {
    case "command_execution": return { tool: "shell", input: { command: item.command } };
    case "file_change": return { tool: "apply_patch", input: { changes: item.changes ?? [] } };
    case "mcp_tool_call": return { tool: `mcp:${item.server}/${item.tool}`, input: item.arguments ?? {} };
    case "web_search": return { tool: "web_search", input: { query: item.query } };
    case "todo_list": return { tool: "update_plan", input: { items: item.items ?? [] } };
    default: return null;
  }
}

function resultOf(item) {
  switch (item.type) {
    case "command_execution":
      return { ok: item.status === "completed" && item.exit_code === 0, output: cap(`exit code: ${item.exit_code ?? "none"}\n${item.aggregated_output ?? ""}`) };
    case "file_change":
      return { ok: item.status === "completed", output: (item.changes ?? []).map((c) => `${c.kind} ${c.path}`).join("\n") || item.status };
    case "mcp_tool_call":
      return { ok: item.status === "completed" && !item.error, output: cap(item.error?.message ?? JSON.stringify(item.result ?? null)) };
    case "todo_list":
      return { ok: true, output: (item.items ?? []).map((i) => `[${i.completed ? "x" : " "}] ${i.text}`).join("\n") };
    default:
      return { ok: item.status !== "failed", output: cap(JSON.stringify(item)) };
  }
}

function step(child) {
  steps++;
  if (steps > m.maxSteps && !stopped) {
    stopped = `stopped after ${m.maxSteps} steps without finishing (the org's model.max_steps; Codex's messages and tool calls count)`;
    child.kill("SIGTERM");
  }
}

// Codex waits on a model that accepts the request but never answers (its idle timeout covers only
// a stream that has begun): when it says nothing for BOSUN_MODEL_TIMEOUT_SECONDS while no tool
// of its runs, the wrapper stops it and says why, before Bosun's inactivity limit would stop it
// without a word.
let lastEventAt = Date.now();
function watch(child) {
  const timer = setInterval(() => {
    if (running.size > 0 || stopped || Date.now() - lastEventAt < m.timeoutSeconds * 1000) return;
    stopped = `the model endpoint did not answer within ${m.timeoutSeconds} s (model ${m.model} at ${new URL(m.baseUrl).host})`;
    child.kill("SIGTERM");
  }, 1000);
  timer.unref();
  child.on("close", () => clearInterval(timer));
}

function onLine(line, child) {
  lastEventAt = Date.now();
  const e = jsonLine(line);
  if (!e || typeof e.type !== "string") return say(line);
  const item = e.item && typeof e.item === "object" ? e.item : null;
  switch (e.type) {
    case "item.started": {
      const call = item && toolOf(item);
      if (!call) return;
      started.set(item.id, call.tool);
      if (item.type !== "todo_list") running.add(item.id);
      event("tool_call", { id: item.id, ...call });
      step(child);
      return;
    }
    case "item.updated":
      return; // progress of an item already reported (a plan's ticks); its completion follows
    case "item.completed": {
      if (!item) return say(line);
      if (item.type === "agent_message") {
        finalMessage = String(item.text ?? "");
        event("model_message", { text: finalMessage });
        step(child);
        return;
      }
      if (item.type === "reasoning") return event("model_message", { text: String(item.text ?? ""), reasoning: true });
      if (item.type === "error") return say(`codex: ${item.message ?? JSON.stringify(item)}`);
      const call = toolOf(item);
      if (!call) return say(line);
      if (!started.has(item.id)) {
        event("tool_call", { id: item.id, ...call });
        step(child);
      }
      started.delete(item.id);
      running.delete(item.id);
      event("tool_result", { id: item.id, tool: call.tool, ...resultOf(item) });
      return;
    }
    case "turn.completed": {
      const u = e.usage ?? {};
      const usage = { input_tokens: u.input_tokens ?? null, output_tokens: u.output_tokens ?? null };
      event("model_message", { text: "", scope: "turn", usage, cached_input_tokens: u.cached_input_tokens ?? null, reasoning_output_tokens: u.reasoning_output_tokens ?? null });
      const used = (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
      if (used > m.maxTokens) failure = `used ${used} tokens, more than the org's model.max_tokens (${m.maxTokens})`;
      return;
    }
    case "turn.failed":
      failure = e.error?.message ?? JSON.stringify(e.error ?? e);
      return say(`codex: turn failed: ${failure}`);
    case "error":
      lastError = e.message ?? JSON.stringify(e);
      return say(`codex: ${lastError}`);
    default:
      return say(line); // thread.started, turn.started and what newer versions add
  }
}

const args = ["exec", "--json", "--color", "never", "--skip-git-repo-check", "--ephemeral", "--dangerously-bypass-approvals-and-sandbox", "-C", workspace, "-"];
const r = await runCli({ command: "codex", args, cwd: workspace, env: { ...env, CODEX_HOME: codexHome, NO_COLOR: "1" }, input: prompt, onLine, onSpawn: watch });
if (r.error) fail(r.error.code === "ENOENT" ? "the image has no `codex` (use bosun/agent-clis, BOSUN_CLI_AGENT_IMAGE)" : `could not start codex: ${r.error.message}`);
if (stopped) fail(stopped);
if (r.code !== 0) {
  const why = failure || lastError || r.stderrTail.slice(-3).join(" | ") || "no message";
  fail(`Codex failed (exit code ${r.code ?? r.signal}; model ${m.model} at ${new URL(m.baseUrl).host}): ${why}`);
}
if (failure) fail(failure);
const result = writeResult(finalMessage, task, "Codex finished without a final message.");
event("model_message", { text: `finished after ${steps} steps`, title: result.title ?? null });
