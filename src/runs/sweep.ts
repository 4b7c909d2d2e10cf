// What ended runs left on the Docker host and in the work folder: containers, volumes and scratch
// folders of runs that have ended (or that this database does not know, with this deployment's
// label). Live runs keep theirs: another replica may be working on them, and whoever claims them
// next deals with stale containers. Run at start-up and then now and then by the worker, so what a
// Docker outage kept Bosun from removing goes once Docker is back.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { summarizeRun } from "../audit/summary.ts";
import { readTranscript } from "../audit/transcript.ts";
import { caWorkDirName } from "../sandbox/ca-certs.ts";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { isTerminal } from "./run.ts";
import type { RunStore } from "./store.ts";

export async function sweepLeftovers(o: { store: RunStore; sandbox: Sandbox; workDir: string; log: Logger }): Promise<void> {
  let ids: Set<string>;
  try {
    ids = await o.sandbox.runIdsPresent();
  } catch (e) {
    o.log.warn({ err: e }, "could not look for leftover sandboxes: Docker is not reachable");
    ids = new Set();
  }
  // The sandboxes' CA folder lives there too, for as long as Bosun runs.
  for (const entry of await readdir(o.workDir).catch(() => [])) if (entry !== caWorkDirName) ids.add(entry);
  for (const id of ids) {
    const run = /^[0-9a-f-]{36}$/.test(id) ? await o.store.get(id) : null;
    if (run && !isTerminal(run.state)) continue;
    const removed = await o.sandbox.cleanup(id).catch(() => ({ containers: 0, volumes: 0 }));
    await rm(join(o.workDir, id), { recursive: true, force: true });
    o.log.info({ run: id, ...removed }, "removed what an ended run left behind");
  }
}

/**
 * Retention: a run the policy keeps no longer has its events replaced by its summary (kept on the
 * run), in one transaction, so an export after that gives the summary and nothing half-deleted.
 */
export async function applyRetention(o: { store: RunStore; pool: Pool; log: Logger }): Promise<number> {
  let reduced = 0;
  for (const run of await o.store.runsPastRetention()) {
    const summary = summarizeRun(run, await readTranscript(o.pool, run.id));
    const client = await o.pool.connect();
    try {
      await client.query("BEGIN");
      const n = await client.query("DELETE FROM run_events WHERE run_id = $1", [run.id]);
      await client.query("UPDATE runs SET facts = facts || $2::jsonb WHERE id = $1", [run.id, JSON.stringify({ retainedSummary: summary, transcriptReducedAt: new Date().toISOString() })]);
      await client.query("COMMIT");
      o.log.info({ run: run.id, events: n.rowCount }, "reduced an ended run's transcript to its summary (retention)");
      reduced++;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      o.log.warn({ err: e, run: run.id }, "could not apply retention to a run");
    } finally {
      client.release();
    }
  }
  return reduced;
}
