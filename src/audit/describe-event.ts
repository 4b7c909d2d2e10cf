// One line of plain text per transcript event: the dashboard's timeline and live log. The JSON
// stays the record; this is what a person skims.
import type { TranscriptEvent } from "./transcript.ts";

const s = (v: unknown): string => (typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v));
const perms = (v: unknown): string => Object.entries((v as Record<string, string> | undefined) ?? {}).map(([k, l]) => `${k}:${l}`).join(", ");

export function describeEvent(e: Pick<TranscriptEvent, "kind" | "payload">): string {
  const p = e.payload;
  // What the agent printed is its word, whatever kind it claims: never read as Bosun's own
  // (an agent's `{"type":"command","phase":"test","exit_code":0}` is not Bosun's test result).
  if (p["source"] === "agent") return `agent: ${describeAgentEvent(e.kind, p)}`;
  switch (e.kind) {
    case "state":
      return `${s(p["from"]) || "new"} → ${s(p["to"])}${p["outcome"] ? ` (${s(p["outcome"])})` : ""}`;
    case "command":
      if (p["cache"] !== undefined) return describeCache(p);
      if (p["reattached"]) return `${s(p["phase"])}: re-attached to the running container`;
      if (p["handed_over"]) return `${s(p["phase"])}: handed over (${s(p["reason"])})`;
      if (p["exit_code"] !== undefined || p["timed_out"] !== undefined) return `${s(p["phase"])}: ${p["timed_out"] ? "timed out" : `exited ${s(p["exit_code"])}`}`;
      return `${s(p["phase"]) || "command"}: ${s(p["command"])}${p["network"] ? ` (network: ${s(p["network"])})` : ""}`;
    case "agent_output":
      return `agent: ${s(p["line"])}`;
    case "prompt":
      return "the task was handed to the agent";
    case "file_diff": {
      const files = (p["files"] as { path?: string; status?: string }[] | undefined) ?? [];
      return `diff: ${files.length} file(s) ${files.map((f) => `${s(f.status)} ${s(f.path)}`).join(", ")}`.trim();
    }
    case "test":
      return `test ${s(p["command"])}: ${p["timed_out"] ? "timed out" : p["exit_code"] === 0 ? "passed" : `failed (exit ${s(p["exit_code"])})`}`;
    case "network":
      return `${s(p["phase"])}: ${p["allowed"] ? "reached" : "refused"} ${s(p["host"])}:${s(p["port"])}${p["reason"] ? ` (${s(p["reason"])})` : ""}`;
    case "dependency_install":
      return `${s(p["phase"])}: installed ${s(p["ecosystem"])} ${s(p["name"])}${p["version"] ? `@${s(p["version"])}` : ""}`;
    case "dependency_change":
      return `dependency change: ${s(p["name"] ?? p["file"])}`;
    case "token_minted":
      return `token minted for ${s(p["purpose"])}: ${perms(p["permissions"])}`;
    case "token_revoked":
      return `token revoked: ${s(p["purpose"])}${p["note"] ? ` (${s(p["note"])})` : ""}`;
    case "comment":
      return `comment: ${s(p["purpose"])}`;
    case "push":
      return `pushed ${s(p["commit"]).slice(0, 7)} to ${s(p["branch"])}`;
    case "pull_request":
      return `pull request #${s(p["number"])}${p["draft"] ? " (draft)" : ""}: ${s(p["title"])}`;
    case "check_run":
      return `check ${s(p["name"])}: ${s(p["conclusion"] ?? p["status"])}`;
    case "review":
      return `review: ${s(p["decision"] ?? p["state"])} by ${s(p["reviewer"] ?? p["author"])}`;
    case "policy_decision":
      return `policy ${s(p["rule"])}: ${s(p["decision"])}${Array.isArray(p["withheld"]) ? ` ${p["withheld"].map((x) => s(x)).join(", ")}` : ""}${p["reason"] ? ` (${s(p["reason"])})` : ""}${p["redacted"] ? ` (${s(p["redacted"])})` : ""}`;
    case "error":
      return `error: ${s(p["message"])}`;
    default:
      return e.kind;
  }
}

/** An event the agent printed, told in its own terms (the kinds it may print, and anything else generically). */
function describeAgentEvent(kind: string, p: Record<string, unknown>): string {
  switch (kind) {
    case "agent_output":
      return s(p["line"]);
    case "command": {
      const said = p["exit_code"] !== undefined || p["timed_out"] !== undefined ? ` (it says: ${p["timed_out"] ? "timed out" : `exit ${s(p["exit_code"])}`})` : "";
      return `ran ${s(p["command"]) || "a command"}${p["phase"] !== undefined ? ` [${s(p["phase"])}]` : ""}${said}`;
    }
    case "tool_call":
      return `tool ${s(p["tool"] ?? p["name"])}${p["input"] !== undefined ? ` ${s(p["input"]).slice(0, 200)}` : ""}`;
    case "tool_result":
      return `tool result ${s(p["tool"] ?? p["name"])}${p["output"] !== undefined ? ` ${s(p["output"]).slice(0, 200)}` : ""}`;
    case "model_message":
      return s(p["text"] ?? p["content"] ?? p["message"]).slice(0, 300);
    case "prompt":
      return `prompt to the model${p["model"] !== undefined ? ` (${s(p["model"])})` : ""}`;
    case "error":
      return `error: ${s(p["message"])}`;
    default:
      return `${kind} ${JSON.stringify(p).slice(0, 200)}`;
  }
}

/** A setup cache decision: whether setup was restored, ran, or was saved, and why. */
function describeCache(p: Record<string, unknown>): string {
  const where = p["purpose"] === "tests" ? "setup for the tests" : "setup";
  const why = p["reason"] ? ` (${s(p["reason"])})` : "";
  const size = typeof p["bytes"] === "number" ? ` ${(p["bytes"] / 1024 / 1024).toFixed(1)} MB` : "";
  const took = typeof p["seconds"] === "number" ? ` in ${p["seconds"]} s` : "";
  switch (p["cache"]) {
    case "restored": return `${where}: restored from the cache saved by run ${s(p["saved_by_run"])} at ${s(p["saved_at"])}${size}${took}; the command did not run`;
    case "saved": return `${where}: saved to the cache${size}${took} for later runs of this repository`;
    case "none": return `${where}: no cache fits, so it runs${why}`;
    default: return `${where}: cache ${s(p["cache"])}${why}`;
  }
}
