// The run's transcript: an append-only list of events in Postgres, redacted before storage.
import type { Pool } from "pg";
import type { Redactor } from "./redactor.ts";

export const eventKinds = [
  "prompt", "model_message", "tool_call", "tool_result", "command", "file_diff", "dependency_install",
  "dependency_change", "test", "network", "token_minted", "token_revoked", "comment", "push", "pull_request",
  "review", "policy_decision", "state", "error", "agent_output", "check_run",
] as const;
export type EventKind = (typeof eventKinds)[number];

export interface TranscriptEvent {
  runId: string;
  seq: number;
  at: Date;
  kind: EventKind;
  payload: Record<string, unknown>;
}

export class Transcript {
  readonly #pool: Pool;
  readonly #redactor: Redactor;
  readonly runId: string;

  constructor(pool: Pool, runId: string, redactor: Redactor) {
    this.#pool = pool;
    this.runId = runId;
    this.#redactor = redactor;
  }

  async append(kind: EventKind, payload: Record<string, unknown>): Promise<void> {
    const clean = JSON.stringify(this.#redactor.value(payload));
    // seq is max+1; a concurrent append on the same run collides on the primary key and retries.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.#pool.query(
          `INSERT INTO run_events (run_id, seq, kind, payload)
           SELECT $1, coalesce(max(seq), 0) + 1, $2, $3::jsonb FROM run_events WHERE run_id = $1`,
          [this.runId, kind, clean],
        );
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== "23505" || attempt > 20) throw e;
      }
    }
  }
}

export async function readTranscript(pool: Pool, runId: string): Promise<TranscriptEvent[]> {
  const r = await pool.query<{ run_id: string; seq: number; at: Date; kind: EventKind; payload: Record<string, unknown> }>(
    "SELECT run_id, seq, at, kind, payload FROM run_events WHERE run_id = $1 ORDER BY seq", [runId]);
  return r.rows.map((x) => ({ runId: x.run_id, seq: x.seq, at: x.at, kind: x.kind, payload: x.payload }));
}

/** One JSON object per line, in order: the export format auditors take away. */
export function toJsonl(events: TranscriptEvent[]): string {
  return events.map((e) => JSON.stringify({ run_id: e.runId, seq: e.seq, at: e.at.toISOString(), kind: e.kind, payload: e.payload })).join("\n") + (events.length ? "\n" : "");
}
