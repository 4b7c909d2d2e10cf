// The `command` adapter: any command line, run in the sandbox. Lines on stdout that are JSON
// objects with a `type` become transcript events; other output is kept as agent output.
import type { EventKind } from "../audit/transcript.ts";

const passThroughKinds: ReadonlySet<string> = new Set(["prompt", "model_message", "tool_call", "tool_result", "command"]);

export interface ParsedLine {
  kind: EventKind;
  payload: Record<string, unknown>;
}

export function parseAgentLine(line: string): ParsedLine | null {
  const trimmed = line.trim();
  if (!trimmed) return null;
  if (trimmed.startsWith("{")) {
    try {
      const obj = JSON.parse(trimmed) as Record<string, unknown>;
      const type = obj["type"];
      if (typeof type === "string" && passThroughKinds.has(type)) {
        const { type: _type, ...payload } = obj;
        return { kind: type as EventKind, payload };
      }
    } catch {
      // not JSON after all: ordinary output
    }
  }
  return { kind: "agent_output", payload: { line: trimmed.slice(0, 4000) } };
}
