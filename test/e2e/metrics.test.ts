// What Prometheus sees across one run: /metrics read with a Prometheus text-format parser before
// and after a run to success, every counter moving by what the run did (as the run's transcript,
// Postgres and the offline GitHub's own logs count it), and the queue's depth while nothing claims.
import { test } from "node:test";
import assert from "node:assert/strict";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { readTranscript } from "../../src/audit/transcript.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

interface Sample { name: string; labels: Record<string, string>; value: number }
interface Scrape { types: Map<string, string>; samples: Sample[] }

/**
 * /metrics, parsed. parse-prometheus-text-format 1.1.1 folds a histogram that has labels into one
 * set of buckets and drops its per-series `_count` and `_sum` (yunyu/parse-prometheus-text-format
 * issue #13; the fix, pull request #8, was never merged). So the text is parsed twice: whole, for
 * the families and their types (and to show all of it parses), and once more without the
 * histograms' TYPE lines, which the parser then reads as plain series, labels and all.
 */
async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  const types = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f.type]));
  const untyped = text.split("\n").filter((l) => !(l.startsWith("# TYPE ") && l.endsWith(" histogram"))).join("\n");
  const samples: Sample[] = [];
  for (const f of parsePrometheusTextFormat(untyped)) {
    for (const m of f.metrics) {
      assert.ok(m.value !== undefined, `${f.name}: a plain series`);
      samples.push({ name: f.name, labels: m.labels ?? {}, value: Number(m.value) });
    }
  }
  return { types, samples };
}

/** The series' value, or 0 when it is absent (a counter not yet incremented is not printed). */
function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const found = s.samples.filter((x) => x.name === name && sameLabels(x.labels, labels));
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} is one series`);
  return found[0]?.value ?? 0;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The label sets a family's series have. */
function series(s: Scrape, name: string): Record<string, string>[] {
  return s.samples.filter((x) => x.name === name).map((x) => x.labels);
}

function total(s: Scrape, name: string): number {
  return s.samples.filter((x) => x.name === name).reduce((n, x) => n + x.value, 0);
}

const probe = `node -e 'require("http").get({host:"127.0.0.1",port:3128,path:"http://evil.bosun.test/",headers:{host:"evil.bosun.test"}}, r => r.resume()).on("error", () => {})'`;
const gitPath = /^\/[^/]+\/[^/]+?\.git\//;

test("/metrics parses, and its counters move by what one run did", async (t) => {
  const w = await startBosunWorld(t);
  const { gh, bosun } = w;
  // The agent first tries a host the org's policy does not list, so the egress proxy refuses it.
  await seedDemoRepo(gh, "counted", { protect: true, files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(`${probe}; sleep 1; node /bosun/agents/patch-agent.mjs`)}\ntest:\n  command: npm test\n` } });
  await gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: []\n" } });
  await gh.hooks.settled();

  const before = await scrape(bosun.url);
  const firstDelivery = gh.hooks.deliveries.length;
  const firstRequest = gh.requests.length;
  const started = Date.now();
  const issue = await labelDemoIssue(gh, "counted");
  const run = await w.waitForRun({ repo: "acme/counted", issue });
  assert.equal(run.state, "succeeded", run.outcome ?? "");
  await bosun.worker.idle();
  await gh.hooks.settled();
  const deliveries = gh.hooks.deliveries.slice(firstDelivery);
  const attempts = deliveries.flatMap((d) => d.attempts.map((a) => ({ event: d.event, action: d.action, status: a.status })));
  // A response's `finish` may come a turn of the event loop after GitHub has read the answer.
  let after = await scrape(bosun.url);
  for (let i = 0; i < 50 && total(after, "bosun_webhook_response_seconds_count") - total(before, "bosun_webhook_response_seconds_count") < attempts.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    after = await scrape(bosun.url);
  }
  const elapsed = (Date.now() - started) / 1000;
  const moved = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);

  for (const [name, type] of [
    ["bosun_runs", "GAUGE"], ["bosun_runs_claimed", "GAUGE"], ["bosun_queue_depth", "GAUGE"],
    ["bosun_runs_finished_total", "COUNTER"], ["bosun_run_duration_seconds", "HISTOGRAM"], ["bosun_step_duration_seconds", "HISTOGRAM"],
    ["bosun_sandbox_seconds_total", "COUNTER"], ["bosun_proxy_decisions_total", "COUNTER"],
    ["bosun_github_requests_total", "COUNTER"], ["bosun_github_rate_limit_remaining", "GAUGE"],
    ["bosun_webhook_deliveries_total", "COUNTER"], ["bosun_webhook_handling_seconds", "HISTOGRAM"], ["bosun_webhook_response_seconds", "HISTOGRAM"],
  ]) assert.equal(after.types.get(name ?? ""), type, `${name} is a ${type}`);

  // Runs: one more succeeded, in Postgres and in this process's counters.
  assert.equal(moved("bosun_runs", { state: "succeeded" }), 1, "runs by state, from Postgres");
  assert.equal(moved("bosun_runs_finished_total", { outcome: "succeeded" }), 1);
  assert.equal(total(after, "bosun_runs_finished_total") - total(before, "bosun_runs_finished_total"), 1, "no other outcome moved");
  assert.equal(moved("bosun_run_duration_seconds_count", { outcome: "succeeded" }), 1);
  const runSeconds = moved("bosun_run_duration_seconds_sum", { outcome: "succeeded" });
  assert.ok(runSeconds > 0 && runSeconds <= elapsed, `the run took ${runSeconds} s, within the ${elapsed} s the test waited`);
  assert.equal(moved("bosun_run_duration_seconds_bucket", { outcome: "succeeded", le: "+Inf" }), 1);

  // Steps: each once (`release`: an approved held change moves on to publishing), together no longer than the run.
  const steps = ["authorize", "prepare", "agent", "verify", "release", "publish"];
  assert.deepEqual(series(after, "bosun_step_duration_seconds_count").map((l) => l["step"]).sort(), [...steps].sort(), "the steps there are");
  let stepSeconds = 0;
  for (const step of steps) {
    assert.equal(moved("bosun_step_duration_seconds_count", { step }), 1, `${step} timed once`);
    stepSeconds += moved("bosun_step_duration_seconds_sum", { step });
  }
  assert.ok(stepSeconds > 0 && stepSeconds <= runSeconds + 0.05, `steps ${stepSeconds} s within the run's ${runSeconds} s`);

  // Sandbox time: the agent and the tests ran (no setup command), as much as the budgets recorded.
  const usage = await bosun.pool.query<{ phase: string; seconds: number }>("SELECT phase, sum(seconds) AS seconds FROM sandbox_usage WHERE run_id = $1 GROUP BY phase ORDER BY phase", [run.id]);
  assert.deepEqual(usage.rows.map((r) => r.phase), ["agent", "test"]);
  for (const r of usage.rows) {
    const counted = moved("bosun_sandbox_seconds_total", { phase: r.phase });
    assert.ok(counted > 0, `${r.phase} sandbox time counted`);
    assert.ok(Math.abs(counted - r.seconds) < 1e-6, `${r.phase}: ${counted} s counted, ${r.seconds} s recorded for the budgets`);
  }
  assert.equal(moved("bosun_sandbox_seconds_total", { phase: "setup" }), 0);

  // Proxy: the one refusal the transcript records, and nothing allowed.
  const network = (await readTranscript(bosun.pool, run.id)).filter((e) => e.kind === "network");
  assert.deepEqual(network.map((e) => [e.payload["phase"], e.payload["host"], e.payload["allowed"]]), [["agent", "evil.bosun.test", false]]);
  assert.equal(moved("bosun_proxy_decisions_total", { phase: "agent", decision: "refused" }), 1);
  assert.equal(total(after, "bosun_proxy_decisions_total") - total(before, "bosun_proxy_decisions_total"), 1);

  // Webhooks: every delivery the offline GitHub made reached Bosun and was answered 200; each is
  // counted by event, timed at the HTTP layer by status, and the handled ones timed by event.
  assert.ok(attempts.length >= 2, "at least the issue's opening and labelling");
  assert.deepEqual(attempts.filter((a) => a.status !== 200), [], "every delivery answered 200");
  const byEvent = new Map<string, number>();
  for (const a of attempts) byEvent.set(a.event, (byEvent.get(a.event) ?? 0) + 1);
  for (const [event, n] of byEvent) assert.equal(moved("bosun_webhook_deliveries_total", { event }), n, `${event} deliveries`);
  assert.equal(total(after, "bosun_webhook_deliveries_total") - total(before, "bosun_webhook_deliveries_total"), attempts.length, "no other event counted");
  assert.equal(moved("bosun_webhook_response_seconds_count", { status: "200" }), attempts.length, "every delivery's answer timed");
  assert.equal(total(after, "bosun_webhook_response_seconds_count") - total(before, "bosun_webhook_response_seconds_count"), attempts.length, "and nothing else");
  assert.ok(moved("bosun_webhook_response_seconds_sum", { status: "200" }) > 0);
  assert.equal(moved("bosun_webhook_handling_seconds_count", { event: "issues" }), attempts.filter((a) => a.event === "issues" && a.action === "labeled").length, "issues.labeled handled");
  assert.equal(moved("bosun_webhook_handling_seconds_count", { event: "issue_comment" }), attempts.filter((a) => a.event === "issue_comment" && a.action === "created").length, "issue_comment.created handled");

  // GitHub: every REST and GraphQL request the offline GitHub logged from the app (its JWT) or an
  // installation token, which only Bosun holds (the test acts as @maya; git over HTTP is not the API).
  const fromBosun = gh.requests.slice(firstRequest).filter((r) => (r.principal === "app" || r.principal === "installation") && !gitPath.test(r.path));
  assert.ok(fromBosun.length >= 10, `${fromBosun.length} API requests from Bosun`);
  assert.deepEqual(gh.requests.slice(firstRequest).filter((r) => r.principal === "invalid" || r.principal === "anonymous"), [], "no request the log cannot attribute");
  const byMethodStatus = new Map<string, number>();
  for (const r of fromBosun) byMethodStatus.set(`${r.method} ${r.status}`, (byMethodStatus.get(`${r.method} ${r.status}`) ?? 0) + 1);
  for (const [key, n] of byMethodStatus) {
    const [method = "", status = ""] = key.split(" ");
    assert.equal(moved("bosun_github_requests_total", { method, status }), n, `${key} requests`);
  }
  assert.equal(total(after, "bosun_github_requests_total") - total(before, "bosun_github_requests_total"), fromBosun.length, "every request Bosun made, and no other");
  const remaining = value(after, "bosun_github_rate_limit_remaining", { resource: "core" });
  assert.ok(remaining > 0 && remaining < 5000, `GitHub's remaining rate limit: ${remaining} of the offline GitHub's 5000`);

  // The queue: empty once the run is done. With the worker stopped, a labelled issue's run and a
  // `/bosun` command wait; a run someone holds or that was put back for later is not waiting.
  assert.equal(value(after, "bosun_queue_depth", { kind: "runs" }), 0);
  assert.equal(value(after, "bosun_queue_depth", { kind: "commands" }), 0);
  await bosun.worker.stop();
  const waiting = await labelDemoIssue(gh, "counted", { title: "Another bug" });
  await gh.as("maya").rest.issues.createComment({ owner: "acme", repo: "counted", issue_number: waiting, body: "/bosun status" });
  await gh.hooks.settled();
  const queued = await scrape(bosun.url);
  assert.equal(value(queued, "bosun_queue_depth", { kind: "runs" }), 1, "the labelled issue's run waits");
  assert.equal(value(queued, "bosun_queue_depth", { kind: "commands" }), 1, "the command waits");
  assert.equal(value(queued, "bosun_runs", { state: "queued" }), 1);
  const [claimed] = await bosun.store.claim("elsewhere", 1, 60_000);
  assert.ok(claimed, "another replica claims the run");
  const held = await scrape(bosun.url);
  assert.equal(value(held, "bosun_queue_depth", { kind: "runs" }), 0, "a claimed run is not waiting");
  assert.equal(value(held, "bosun_runs_claimed", { replica: "elsewhere" }), 1);
  await bosun.store.defer(claimed, 60_000);
  const deferred = await scrape(bosun.url);
  assert.equal(value(deferred, "bosun_queue_depth", { kind: "runs" }), 0, "a run put back for later is not waiting yet");
  assert.equal(value(deferred, "bosun_runs", { state: "queued" }), 1, "though it is still queued");

  // A delivery whose signature does not verify is answered, and timed, but not counted as a delivery.
  const forged = await fetch(bosun.webhookUrl, { method: "POST", headers: { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": "forged-1", "x-hub-signature-256": `sha256=${"0".repeat(64)}` }, body: "{}" });
  await forged.arrayBuffer();
  assert.equal(forged.status, 400, "a forged delivery is refused");
  let refused = await scrape(bosun.url);
  for (let i = 0; i < 50 && value(refused, "bosun_webhook_response_seconds_count", { status: "400" }) === value(deferred, "bosun_webhook_response_seconds_count", { status: "400" }); i++) {
    await new Promise((r) => setTimeout(r, 100));
    refused = await scrape(bosun.url);
  }
  assert.equal(value(refused, "bosun_webhook_response_seconds_count", { status: "400" }) - value(deferred, "bosun_webhook_response_seconds_count", { status: "400" }), 1);
  assert.equal(total(refused, "bosun_webhook_deliveries_total"), total(deferred, "bosun_webhook_deliveries_total"));
});
