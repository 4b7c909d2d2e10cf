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

type EventRow = { run_id: string; seq: number; at: Date; kind: EventKind; payload: Record<string, unknown> };
const toEvent = (x: EventRow): TranscriptEvent => ({ runId: x.run_id, seq: x.seq, at: x.at, kind: x.kind, payload: x.payload });

/** Events read a page at a time: what a caller holds is one page, whatever the run printed. */
export const transcriptPageSize = 500;

/**
 * One page of a run's events after `after` (a seq), in order; `kinds` keeps only those kinds.
 * Keyset pagination on the primary key (run_id, seq): each page is an index range scan, however far in.
 */
export async function transcriptPage(pool: Pool, runId: string, o: { after?: number; limit?: number; kinds?: readonly EventKind[] } = {}): Promise<TranscriptEvent[]> {
  const r = await pool.query<EventRow>(
    `SELECT run_id, seq, at, kind, payload FROM run_events
      WHERE run_id = $1 AND seq > $2 AND ($4::text[] IS NULL OR kind = ANY($4)) ORDER BY seq LIMIT $3`,
    [runId, o.after ?? 0, o.limit ?? transcriptPageSize, o.kinds ? [...o.kinds] : null]);
  return r.rows.map(toEvent);
}

/** A run's events in order, a page at a time (see transcriptPage). */
export async function* transcriptEvents(pool: Pool, runId: string, o: { kinds?: readonly EventKind[] } = {}): AsyncGenerator<TranscriptEvent> {
  let after = 0;
  for (;;) {
    const page = await transcriptPage(pool, runId, { after, ...o });
    yield* page;
    const last = page.at(-1);
    if (!last || page.length < transcriptPageSize) return;
    after = last.seq;
  }
}

/** The whole transcript in memory: for tests and small runs; everything Bosun serves reads pages. */
export async function readTranscript(pool: Pool, runId: string): Promise<TranscriptEvent[]> {
  const out: TranscriptEvent[] = [];
  for await (const e of transcriptEvents(pool, runId)) out.push(e);
  return out;
}

/** The latest event of a kind, or null. */
export async function lastEventOf(pool: Pool, runId: string, kind: EventKind): Promise<TranscriptEvent | null> {
  const r = await pool.query<EventRow>("SELECT run_id, seq, at, kind, payload FROM run_events WHERE run_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1", [runId, kind]);
  return r.rows[0] ? toEvent(r.rows[0]) : null;
}

export async function countEvents(pool: Pool, runId: string): Promise<number> {
  const r = await pool.query<{ n: string }>("SELECT count(*) AS n FROM run_events WHERE run_id = $1", [runId]);
  return Number(r.rows[0]?.n ?? 0);
}

/** One event as a line of the export format auditors take away. */
export function jsonlLine(e: TranscriptEvent): string {
  return JSON.stringify({ run_id: e.runId, seq: e.seq, at: e.at.toISOString(), kind: e.kind, payload: e.payload }) + "\n";
}

/** One JSON object per line, in order. */
export function toJsonl(events: TranscriptEvent[]): string {
  return events.map(jsonlLine).join("");
}

/** The export a page at a time, as text chunks for a stream. */
export async function* transcriptJsonl(pool: Pool, runId: string, shown: (e: TranscriptEvent) => TranscriptEvent = (e) => e): AsyncGenerator<string> {
  let chunk = "";
  for await (const e of transcriptEvents(pool, runId)) {
    chunk += jsonlLine(shown(e));
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = "";
    }
  }
  if (chunk) yield chunk;
}
