// What an operator's monitoring sees: /healthz, /readyz (Postgres and Docker) and Prometheus
// metrics on /metrics, next to the webhook route.
import { test } from "node:test";
import assert from "node:assert/strict";
import Docker from "dockerode";
import { DockerSandbox } from "../../src/sandbox/docker-sandbox.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

/** A sample's value from Prometheus text, or null when the series is absent. */
function sample(text: string, series: string): number | null {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : null;
}

test("health, readiness and metrics", async (t) => {
  const w = await startBosunWorld(t);
  const base = w.bosun.url;
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: "ready", postgres: "ok", docker: "ok" });

  await seedDemoRepo(w.gh, "watched");
  const run = await w.waitForRun({ repo: "acme/watched", issue: await labelDemoIssue(w.gh, "watched") });
  assert.equal(run.state, "succeeded", run.outcome ?? "");

  const res = await fetch(`${base}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain/);
  const text = await res.text();
  assert.equal(sample(text, 'bosun_runs{state="succeeded"}'), 1, "runs by state, from Postgres");
  assert.ok((sample(text, 'bosun_runs_finished_total{outcome="succeeded"}') ?? 0) >= 1);
  assert.ok((sample(text, 'bosun_run_duration_seconds_count{outcome="succeeded"}') ?? 0) >= 1);
  for (const step of ["authorize", "prepare", "agent", "verify", "publish"]) {
    assert.ok((sample(text, `bosun_step_duration_seconds_count{step="${step}"}`) ?? 0) >= 1, `${step} timed`);
  }
  assert.ok((sample(text, 'bosun_sandbox_seconds_total{phase="agent"}') ?? 0) > 0, "sandbox time");
  assert.ok((sample(text, 'bosun_github_requests_total{method="POST",status="201"}') ?? 0) >= 3, "GitHub calls");
  assert.ok((sample(text, 'bosun_github_rate_limit_remaining{resource="core"}') ?? 0) > 0, "GitHub's remaining rate limit");
  assert.ok((sample(text, 'bosun_webhook_deliveries_total{event="issues"}') ?? 0) >= 2, "webhook deliveries");
  assert.ok((sample(text, 'bosun_webhook_handling_seconds_count{event="issues"}') ?? 0) >= 1, "webhook handling time (the label's)");
  assert.match(text, /^bosun_process_resident_memory_bytes \d+/m, "process metrics");
});

test("not ready when Docker cannot be reached", async (t) => {
  const w = await startBosunWorld(t, {}, { sandbox: new DockerSandbox(new Docker({ socketPath: "/nonexistent/docker.sock" })) });
  const ready = await fetch(`${w.bosun.url}/readyz`);
  assert.equal(ready.status, 503);
  const body = (await ready.json()) as Record<string, string>;
  assert.equal(body["status"], "not ready");
  assert.equal(body["postgres"], "ok");
  assert.match(body["docker"] ?? "", /^unreachable: Docker is not reachable \(.*\): connect ENOENT \/nonexistent\/docker\.sock/);
  assert.equal((await fetch(`${w.bosun.url}/healthz`)).status, 200, "the process itself is up");
});
