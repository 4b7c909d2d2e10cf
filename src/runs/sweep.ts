// What ended runs left on the Docker host and in the work folder: containers, volumes and scratch
// folders of runs that have ended (or that this database does not know, with this deployment's
// label). Live runs keep theirs: another replica may be working on them, and whoever claims them
// next deals with stale containers. Run at start-up and then now and then by the worker, so what a
// Docker outage kept Bosun from removing goes once Docker is back.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Pool } from "pg";
import type { Logger } from "pino";
import { summarizeStoredRun } from "../audit/summary.ts";
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

/** Events deleted per statement: a reduced run's rows go in short transactions, not one long one. */
const retentionBatch = 1000;

/**
 * Retention: a run the policy keeps no longer has its events replaced by its summary (kept on the
 * run; computed a page at a time). The summary is kept in the transaction that deletes the first
 * batch, so an export after that gives the summary (and no half-deleted events); further batches
 * follow, and a sweep interrupted between them goes on where it stopped the next time.
 */
export async function applyRetention(o: { store: RunStore; pool: Pool; log: Logger }): Promise<number> {
  let reduced = 0;
  for (const run of await o.store.runsPastRetention()) {
    try {
      let events = 0;
      if (!run.facts.transcriptReducedAt) {
        const summary = await summarizeStoredRun(o.pool, run);
        const client = await o.pool.connect();
        try {
          await client.query("BEGIN");
          events += await deleteBatch(client, run.id);
          await client.query("UPDATE runs SET facts = facts || $2::jsonb WHERE id = $1", [run.id, JSON.stringify({ retainedSummary: summary, transcriptReducedAt: new Date().toISOString() })]);
          await client.query("COMMIT");
        } catch (e) {
          await client.query("ROLLBACK").catch(() => undefined);
          throw e;
        } finally {
          client.release();
        }
      }
      for (let n = retentionBatch; n === retentionBatch;) {
        n = await deleteBatch(o.pool, run.id);
        events += n;
      }
      o.log.info({ run: run.id, events }, "reduced an ended run's transcript to its summary (retention)");
      reduced++;
    } catch (e) {
      o.log.warn({ err: e, run: run.id }, "could not apply retention to a run");
    }
  }
  return reduced;
}

function deleteBatch(db: Pick<Pool, "query">, runId: string): Promise<number> {
  return db.query("DELETE FROM run_events WHERE run_id = $1 AND seq IN (SELECT seq FROM run_events WHERE run_id = $1 ORDER BY seq LIMIT $2)", [runId, retentionBatch]).then((r) => r.rowCount ?? 0);
}
