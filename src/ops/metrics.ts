// Prometheus metrics (prom-client), served on /metrics. Counters and histograms are kept by the
// code that does the work; gauges of runs by state, leases and the queue are read from Postgres
// when scraped, so every replica reports the same truth. One registry per process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Pool } from "pg";

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: "bosun_" });

export const runsFinished = new Counter({ name: "bosun_runs_finished_total", help: "Runs that reached an end state in this process, by outcome.", labelNames: ["outcome"], registers: [registry] });
export const runDuration = new Histogram({ name: "bosun_run_duration_seconds", help: "From the labelled issue to the run's end state.", labelNames: ["outcome"], buckets: [10, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600], registers: [registry] });
export const stepDuration = new Histogram({ name: "bosun_step_duration_seconds", help: "One step of a run (authorize, prepare, agent, verify, publish) in this process.", labelNames: ["step"], buckets: [0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 3600], registers: [registry] });
export const sandboxSeconds = new Counter({ name: "bosun_sandbox_seconds_total", help: "Time sandbox containers ran, by phase.", labelNames: ["phase"], registers: [registry] });
export const proxyDecisions = new Counter({ name: "bosun_proxy_decisions_total", help: "Requests through the egress proxy, by phase and decision.", labelNames: ["phase", "decision"], registers: [registry] });
export const githubRequests = new Counter({ name: "bosun_github_requests_total", help: "Requests to GitHub's API, by method and status (0: no answer).", labelNames: ["method", "status"], registers: [registry] });
export const githubRateRemaining = new Gauge({ name: "bosun_github_rate_limit_remaining", help: "GitHub's x-ratelimit-remaining on the latest answer, by resource.", labelNames: ["resource"], registers: [registry] });
export const webhookDeliveries = new Counter({ name: "bosun_webhook_deliveries_total", help: "Verified webhook deliveries, by event.", labelNames: ["event"], registers: [registry] });
export const webhookHandling = new Histogram({ name: "bosun_webhook_handling_seconds", help: "From a verified delivery to its handler's return (what GitHub waits for).", labelNames: ["event"], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });
export const webhookResponse = new Histogram({ name: "bosun_webhook_response_seconds", help: "From a request's arrival on the webhook path to its response being sent (what GitHub sees), by HTTP status.", labelNames: ["status"], buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [registry] });

const runsByState = new Gauge({ name: "bosun_runs", help: "Runs in Postgres by state (all replicas).", labelNames: ["state"], registers: [registry] });
const leasedRuns = new Gauge({ name: "bosun_runs_claimed", help: "Runs a replica holds a live lease on, by replica.", labelNames: ["replica"], registers: [registry] });
const queueDepth = new Gauge({ name: "bosun_queue_depth", help: "Work waiting for a worker now (all replicas): queued runs no one holds and not deferred (kind=runs), unhandled /bosun commands no one holds (kind=commands).", labelNames: ["kind"], registers: [registry] });

let pool: Pool | null = null;

/** The database the run gauges are read from when scraped (the latest started Bosun's). */
export function readRunGaugesFrom(p: Pool): void {
  pool = p;
}

/** The text Prometheus scrapes. */
export async function renderMetrics(): Promise<string> {
  if (pool) {
    const states = await pool.query<{ state: string; n: string }>("SELECT state, count(*) AS n FROM runs GROUP BY state");
    runsByState.reset();
    for (const r of states.rows) runsByState.set({ state: r.state }, Number(r.n));
    const leases = await pool.query<{ replica: string; n: string }>("SELECT lease_owner AS replica, count(*) AS n FROM runs WHERE lease_expires_at > now() AND lease_owner IS NOT NULL GROUP BY lease_owner");
    leasedRuns.reset();
    for (const r of leases.rows) leasedRuns.set({ replica: r.replica }, Number(r.n));
    // Queued runs and unhandled commands the next claim could take: no lease in the future (a
    // live claim or, for a run, a deferral), as RunStore.claim and CommandStore.claim ask.
    const waiting = await pool.query<{ runs: string; commands: string }>(
      `SELECT (SELECT count(*) FROM runs WHERE state = 'queued' AND (lease_expires_at IS NULL OR lease_expires_at < now())) AS runs,
              (SELECT count(*) FROM commands WHERE handled_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())) AS commands`,
    );
    queueDepth.set({ kind: "runs" }, Number(waiting.rows[0]?.runs ?? 0));
    queueDepth.set({ kind: "commands" }, Number(waiting.rows[0]?.commands ?? 0));
  }
  return registry.metrics();
}
