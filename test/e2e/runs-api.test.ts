// The runs API as a script uses it: GitHub's own token as a Bearer token, and GitHub's answer on
// who may read the repository decides what it gets. No access and no such run look the same.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import type { RunSummary } from "../../src/audit/summary.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";
import { publishedEventValidator } from "../helpers/published-schema.ts";

test("GET /api/runs, a run's summary and its transcript as JSONL, for people who can read the repository", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "ledger", { protect: true });
  w.gh.createUser("stranger");
  const done = await w.waitForRun({ repo: "acme/ledger", issue: await labelDemoIssue(w.gh, "ledger") });
  assert.equal(done.state, "succeeded", done.outcome ?? "");

  const as = (login: string | null) => async (path: string): Promise<Response> =>
    fetch(`${w.bosun.url}${path}`, { headers: login ? { authorization: `Bearer ${w.gh.userToken(login)}` } : {} });
  const maya = as("maya");
  const tess = as("tess");
  const stranger = as("stranger");

  const list = (await (await maya("/api/runs")).json()) as { runs: { id: string; repository: string; state: string; pull_request: { number: number } | null }[] };
  assert.deepEqual(list.runs.map((r) => [r.id, r.repository, r.state, r.pull_request?.number]), [[done.id, "acme/ledger", "succeeded", done.prNumber]]);
  const filtered = (await (await maya("/api/runs?state=failed")).json()) as { runs: unknown[] };
  assert.deepEqual(filtered.runs, [], "the state filter applies");
  const byRequester = (await (await maya("/api/runs?requester=@maya")).json()) as { runs: unknown[] };
  assert.equal(byRequester.runs.length, 1);

  const jsonl = await maya(`/api/runs/${done.id}/transcript.jsonl`);
  assert.equal(jsonl.status, 200);
  assert.match(jsonl.headers.get("content-type") ?? "", /^application\/x-ndjson/);
  const text = await jsonl.text();
  const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l) as { run_id: string; seq: number; kind: string });
  const stored = await readTranscript(w.bosun.pool, done.id);
  assert.deepEqual(lines.map((l) => l.seq), stored.map((e) => e.seq), "every event, in order");
  const { validate, errors } = await publishedEventValidator();
  for (const l of lines) assert.ok(validate(l), `event ${l.seq} (${l.kind}) matches the published schema: ${errors()}`);
  for (const tk of w.gh.installationTokens()) assert.ok(!text.includes(tk.token), "no token value is exported");

  // Triage access reads too; the summary is the CLI's.
  const summary = (await (await tess(`/api/runs/${done.id}/summary`)).json()) as RunSummary;
  assert.equal(summary.run.id, done.id);
  assert.equal(summary.pull_request?.number, done.prNumber);
  assert.deepEqual(summary.states.map((s) => s.to), ["queued", "preparing", "running", "verifying", "awaiting_push_approval", "publishing", "succeeded"]);

  // No access looks exactly like no such run; no credentials is 401.
  for (const path of [`/api/runs/${done.id}`, `/api/runs/${done.id}/summary`, `/api/runs/${done.id}/transcript.jsonl`]) {
    const res = await stranger(path);
    assert.equal(res.status, 404, path);
    assert.deepEqual(await res.json(), { message: "Not Found" });
  }
  assert.deepEqual(((await (await stranger("/api/runs")).json()) as { runs: unknown[] }).runs, [], "a stranger's list is empty");
  assert.equal((await maya("/api/runs/00000000-0000-4000-8000-000000000000/summary")).status, 404);
  assert.equal((await as(null)(`/api/runs/${done.id}/summary`)).status, 401);
  const bad = await fetch(`${w.bosun.url}/api/runs`, { headers: { authorization: "Bearer ghp_not-a-token" } });
  assert.equal(bad.status, 401);
  assert.deepEqual(await bad.json(), { message: "GitHub does not accept this token" });

  // The webhook route is still Probot's.
  assert.equal((await fetch(w.bosun.webhookUrl, { method: "POST", body: "{}", headers: { "content-type": "application/json" } })).status, 400);
});
