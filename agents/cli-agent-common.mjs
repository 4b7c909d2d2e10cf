// What Bosun's wrappers around coding-agent CLIs (codex-agent.mjs, claude-agent.mjs) share: the
// task and the model settings Bosun gives every model agent, Bosun's events on stdout, a private
// folder in the tmpfs home for the CLI's own state, the CLI run line by line, and
// /bosun/result.json from the CLI's final message. Plain Node ESM, no dependencies (the sandbox's
// Node 18). Not an agent itself: copied into /bosun/agents with the wrappers that import it.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

export const env = process.env;

/** Bosun's event on stdout: one JSON line that becomes a transcript event. */
export const event = (type, fields) => process.stdout.write(JSON.stringify({ type, ...fields }) + "\n");
/** A line of plain agent output (kept in the transcript as the agent's output). */
export const say = (line) => process.stdout.write(`${line}\n`);

/** A failure's message as the last line (the run's outcome shows it), then a non-zero exit. */
export function failer(name) {
  return (message) => {
    process.stdout.write(`${name} agent: ${message}\n`);
    process.exit(1);
  };
}

/** The org's model as Bosun hands it to every model agent (see src/runs/steps/run-agent.ts). */
export function modelSettings() {
  const keyEnv = env.BOSUN_MODEL_API_KEY_ENV ?? "";
  return {
    baseUrl: (env.BOSUN_MODEL_BASE_URL ?? "").replace(/\/+$/, ""),
    model: env.BOSUN_MODEL ?? "",
    keyEnv,
    apiKey: keyEnv ? env[keyEnv] ?? "" : "",
    maxSteps: Number(env.BOSUN_AGENT_MAX_STEPS ?? 40),
    maxTokens: Number(env.BOSUN_AGENT_MAX_TOKENS ?? 400000),
    timeoutSeconds: Number(env.BOSUN_MODEL_TIMEOUT_SECONDS ?? 120),
  };
}

export function readTask() {
  return JSON.parse(readFileSync(env.BOSUN_TASK ?? "/bosun/task.json", "utf8"));
}

/**
 * What the wrapper adds to Bosun's ready-made prompt: how the CLI's last message becomes the
 * pull request's title and summary, and the test command.
 */
export function promptFor(task) {
  const closing = task.mode === "plan"
    ? "This is a read-only plan: do not change files. End with your plan as your final message."
    : "When you are done, end with a final message whose first line is a pull request title (under 72 characters) and whose following lines summarize what you changed and why. Bosun computes the diff, runs the tests again and opens the pull request.";
  return [
    task.prompt,
    task.test_command ? `The repository's test command is: ${task.test_command}` : "",
    closing,
  ].filter(Boolean).join("\n\n");
}

/** A fresh folder for the CLI's own state in the (tmpfs) home: the root filesystem is read-only. */
export function privateDir(prefix) {
  const home = homedir();
  for (const base of [home, tmpdir()]) {
    try {
      mkdirSync(base, { recursive: true });
      return mkdtempSync(join(base, prefix));
    } catch { /* try the next */ }
  }
  throw new Error(`no writable folder for ${prefix} in ${home} or ${tmpdir()}`);
}

const outputCap = 16000;
export const cap = (s) => {
  const text = String(s ?? "");
  return text.length > outputCap ? `${text.slice(0, outputCap)}\n… (${text.length - outputCap} more characters)` : text;
};

/**
 * Runs the CLI with `input` on its stdin, handing each stdout line to `onLine` as it comes and
 * passing stderr through (its last lines are kept for a failure's message). Forwards SIGTERM and
 * SIGINT. `onSpawn` gets the child process first. Resolves with { code, signal, stderrTail, error }.
 */
export function runCli({ command, args, env: childEnv, cwd, input, onLine, onSpawn }) {
  return new Promise((resolvePromise) => {
    let child;
    try {
      child = spawn(command, args, { cwd, env: childEnv, stdio: ["pipe", "pipe", "pipe"] });
    } catch (e) {
      resolvePromise({ code: null, signal: null, stderrTail: [], error: e });
      return;
    }
    const stderrTail = [];
    let spawnError = null;
    const forward = (sig) => { try { child.kill(sig); } catch { /* gone */ } };
    process.on("SIGTERM", () => forward("SIGTERM"));
    process.on("SIGINT", () => forward("SIGINT"));
    child.on("error", (e) => { spawnError = e; });
    onSpawn?.(child);
    child.stdin.on("error", () => { /* the CLI may exit before reading it all */ });
    child.stdin.end(input ?? "");
    let buffered = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line.trim()) onLine(line, child);
      }
    });
    let errBuffered = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      process.stderr.write(chunk);
      errBuffered += chunk;
      const lines = errBuffered.split("\n");
      errBuffered = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) { stderrTail.push(l.trim()); if (stderrTail.length > 20) stderrTail.shift(); }
    });
    child.on("close", (code, signal) => {
      if (buffered.trim()) onLine(buffered, child);
      if (errBuffered.trim()) stderrTail.push(errBuffered.trim());
      resolvePromise({ code, signal, stderrTail, error: spawnError });
    });
  });
}

/** Parses a JSON line, or null when it is not one JSON object. */
export function jsonLine(line) {
  const t = line.trim();
  if (!t.startsWith("{")) return null;
  try {
    const v = JSON.parse(t);
    return v && typeof v === "object" && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * A pull request title and summary from the CLI's final message: a short first line followed by
 * more text is the title (Markdown heading marks and a "Title:" label dropped), the rest the
 * summary; otherwise the whole message is the summary and the issue gives the title.
 */
export function titleAndSummary(text, task) {
  const message = String(text ?? "").trim();
  const lines = message.split("\n");
  const first = (lines[0] ?? "").replace(/^#+\s*/, "").replace(/^\*\*(.*)\*\*$/, "$1").replace(/^title:\s*/i, "").trim();
  const rest = lines.slice(1).join("\n").trim();
  if (first && first.length <= 100 && rest) return { title: first, summary: rest };
  return { title: `Fix #${task.issue?.number ?? "?"}: ${task.issue?.title ?? "the issue"}`.slice(0, 100), summary: message };
}

/**
 * /bosun/result.json: the agent's own, when it wrote one with a summary (the task's prompt allows
 * it); else the summary and title of its final message (a plan's whole message is its summary).
 */
export function writeResult(finalText, task, fallbackSummary) {
  const path = env.BOSUN_RESULT ?? "/bosun/result.json";
  if (existsSync(path)) {
    try {
      const own = JSON.parse(readFileSync(path, "utf8"));
      if (own && typeof own.summary === "string" && own.summary.trim()) return own;
    } catch { /* not usable: replaced below */ }
  }
  const text = String(finalText ?? "").trim();
  // A plan is posted whole as a comment; a change's message gives the pull request's title and body.
  const result = !text ? { summary: fallbackSummary } : task.mode === "plan" ? { summary: text } : titleAndSummary(text, task);
  writeFileSync(path, JSON.stringify(result));
  return result;
}
