// Every event a test's runs recorded, checked against the transcript's schema before the test's
// database goes: the whole suite is the sample the published schema is held to.
import type { Pool } from "pg";
import { transcriptEventSchema } from "../../src/audit/event-schema.ts";

export async function transcriptProblems(pool: Pool): Promise<string[]> {
  const r = await pool.query<{ run_id: string; seq: number; at: Date; kind: string; payload: Record<string, unknown> }>("SELECT run_id, seq, at, kind, payload FROM run_events ORDER BY run_id, seq");
  const problems: string[] = [];
  for (const e of r.rows) {
    const checked = transcriptEventSchema.safeParse({ run_id: e.run_id, seq: e.seq, at: e.at.toISOString(), kind: e.kind, payload: e.payload });
    if (!checked.success) problems.push(`${e.kind} #${e.seq} of ${e.run_id}: ${checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")} in ${JSON.stringify(e.payload).slice(0, 300)}`);
  }
  return problems;
}
