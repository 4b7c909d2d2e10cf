// `npm run transcript -- <run id> [--summary]`: a run's transcript as JSONL (one event per line,
// in order, as stored: redacted), or its summary as JSON, from the Postgres in DATABASE_URL.
import { once } from "node:events";
import { parseArgs } from "node:util";
import pg from "pg";
import { summarizeStoredRun } from "../src/audit/summary.ts";
import { transcriptJsonl } from "../src/audit/transcript.ts";
import { readEnv } from "../src/config/env.ts";
import { RunStore } from "../src/runs/store.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { summary: { type: "boolean" }, help: { type: "boolean", short: "h" } } });
const runId = positionals[0];
if (values.help || !runId) {
  console.error("usage: npm run transcript -- <run id> [--summary]\n  JSONL of the run's events, or with --summary the run's summary as JSON (DATABASE_URL names the database)");
  process.exit(values.help ? 0 : 2);
}
const pool = new pg.Pool({ connectionString: readEnv().DATABASE_URL });
try {
  const run = /^[0-9a-f-]{36}$/i.test(runId) ? await new RunStore(pool).get(runId) : null;
  if (!run) {
    console.error(`no run ${runId} in this database`);
    process.exitCode = 1;
  } else {
    // A run past its retention keeps only its summary: the events are gone.
    if (run.facts.transcriptReducedAt && !values.summary) console.error(`the events of run ${run.id} were reduced to its summary on ${run.facts.transcriptReducedAt} (retention); use --summary`);
    if (values.summary) process.stdout.write(JSON.stringify(run.facts.retainedSummary ?? await summarizeStoredRun(pool, run), null, 2) + "\n");
    else if (!run.facts.transcriptReducedAt) {
      // A page at a time, waiting for stdout to drain: a long transcript never sits in memory whole.
      for await (const chunk of transcriptJsonl(pool, run.id)) if (!process.stdout.write(chunk)) await once(process.stdout, "drain");
    }
  }
} finally {
  await pool.end();
}
