// A chatty agent: it prints far more than a run's transcript holds (about 200 MB in 64 KiB JSON
// lines, or small lines without end). Bosun, a separate process as in production, records up to
// the org's `transcript` limits and one event saying what it dropped; the run goes on (`drop`, the
// default) or the agent is stopped with a message (`stop`); Bosun's peak memory stays bounded.
import { test } from "node:test";
import assert from "node:assert/strict";
import Docker from "dockerode";
import { readTranscript, type TranscriptEvent } from "../../../src/audit/transcript.ts";
import { bosunDefaults } from "../../../src/config/org-policy.ts";
import { isTerminal, type Run } from "../../../src/runs/run.ts";
import { chattyAgentCommand as chatter, peakMemoryMiB, startBosunCluster, until, type BosunCluster } from "../../helpers/bosun-process.ts";
import { labelDemoIssue, seedDemoRepo } from "../../helpers/seed.ts";

const docker = new Docker();

async function runOf(c: BosunCluster, repo: string): Promise<Run> {
  const run = await until("the run", async () => (await c.store.list({ owner: "acme", repo }))[0]);
  return until("the run to end", async () => {
    const r = await c.store.get(run.id);
    return r && isTerminal(r.state) ? r : null;
  }, 300_000, 500);
}

function progressComment(c: BosunCluster, repo: string): string {
  return [...c.gh.repo(`acme/${repo}`).comments.values()].find((x) => x.user === "bosun[bot]" && x.body.includes("bosun:progress"))?.body ?? "";
}

const agentEvents = (events: TranscriptEvent[]): TranscriptEvent[] => events.filter((e) => e.payload["source"] === "agent");
const dropNotes = (events: TranscriptEvent[]): TranscriptEvent[] => events.filter((e) => e.kind === "error" && e.payload["dropped_events"] !== undefined);

// Measured with npm run bench (part 'chatty'): Bosun's peak with one quiet run is about 160 MiB,
// with this agent 251–405 MiB over two bench runs (garbage from the 200 MiB read off Docker, before V8 collects it).
// Before these limits the same agent took it to 690 MiB (its events queued in memory, then the
// whole transcript read back by publish), and more with each MiB printed.
const peakBoundMiB = 512;

test("a chatty agent: 200 MB of output, the default limits, the run goes on and Bosun's memory stays bounded", async (t) => {
  const c = await startBosunCluster(t, {}, { checkSchemas: false });
  const lines = 3200; // 3200 × 64 KiB ≈ 200 MiB
  await seedDemoRepo(c.gh, "chatty", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(`${chatter(lines, 64 * 1024)}; node /bosun/agents/patch-agent.mjs`)}\ntest:\n  command: npm test\n` } });
  const bosun = await c.start("only");
  c.gh.setWebhookUrl(bosun.webhookUrl);
  await labelDemoIssue(c.gh, "chatty");

  const done = await runOf(c, "chatty");
  const peak = await peakMemoryMiB(bosun);
  assert.equal(done.state, "succeeded", `${done.outcome ?? ""} ${done.lastError ?? ""}`);

  const events = await readTranscript(c.pool, done.id);
  const { max_agent_events: maxEvents, max_agent_mb: maxMb } = bosunDefaults.transcript;
  const recorded = agentEvents(events);
  const recordedBytes = recorded.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.payload)), 0);
  assert.ok(recorded.length > 0 && recorded.length <= maxEvents, `${recorded.length} agent events recorded, at most ${maxEvents}`);
  assert.ok(recordedBytes <= maxMb * 1024 * 1024 + 64 * 1024, `${recordedBytes} bytes of agent events recorded, at most ${maxMb} MiB`);
  const notes = dropNotes(events);
  assert.equal(notes.length, 1, "one event says what was dropped");
  const note = notes[0]?.payload ?? {};
  assert.equal(note["on_limit"], "drop");
  assert.equal(note["limit"], `${maxMb} MiB`);
  // The lines are 65,530 bytes: the limit holds that many whole ones, and the rest (with what the agent printed after) are counted.
  const fits = Math.floor((maxMb * 1024 * 1024) / 65_530);
  assert.equal(recorded.filter((e) => e.kind === "model_message").length, fits, "the lines that fit are recorded");
  assert.ok(Number(note["dropped_events"]) >= lines - fits, "every other line is counted as dropped");
  assert.match(String(note["message"]), new RegExp(`more than the run's transcript holds \\(${maxMb} MiB: the org's \`transcript\` limits\\); \\d+ more lines \\(\\d+\\.\\d MiB\\) were not recorded`));
  assert.match(progressComment(c, "chatty"), /The agent finished \(exit code 0\)\. The agent printed more than the run's transcript holds/, "the progress comment says so");
  assert.ok(done.prNumber, "the pull request is open: the run went on");

  t.diagnostic(`Bosun's peak memory (VmHWM): ${peak.toFixed(0)} MiB; bound ${peakBoundMiB} MiB`);
  assert.ok(peak < peakBoundMiB, `Bosun's peak memory ${peak.toFixed(0)} MiB is under ${peakBoundMiB} MiB`);
});

test("a chatty agent under `on_limit: stop`: stopped at the limit, with the message on the issue", async (t) => {
  const c = await startBosunCluster(t, {}, { checkSchemas: false });
  await seedDemoRepo(c.gh, "stopped", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(chatter(null, 200))}\n` } });
  await c.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "transcript:\n  max_agent_events: 600\n  on_limit: stop\n" } });
  const bosun = await c.start("only");
  c.gh.setWebhookUrl(bosun.webhookUrl);
  await labelDemoIssue(c.gh, "stopped");

  const done = await runOf(c, "stopped");
  assert.equal(done.state, "failed");
  const message = "The agent printed more than the run's transcript holds (600 events: the org's `transcript` limits), so it was stopped (`transcript.on_limit: stop`).";
  assert.equal(done.outcome, message);
  assert.ok(progressComment(c, "stopped").includes(message), "the progress comment gives the message");

  const events = await readTranscript(c.pool, done.id);
  assert.equal(agentEvents(events).length, 600, "the agent's events up to the limit");
  const notes = dropNotes(events);
  assert.equal(notes.length, 1, "one event says what was dropped");
  assert.equal(notes[0]?.payload["on_limit"], "stop");
  assert.ok(Number(notes[0]?.payload["dropped_events"]) >= 1);

  // The export and the summary, read a page (500 events) at a time, give every stored event and the message.
  const api = (path: string): Promise<Response> => fetch(`${bosun.webhookUrl.replace(/\/api\/github\/webhooks$/, "")}${path}`, { headers: { authorization: `Bearer ${c.gh.userToken("maya")}` } });
  const exported = (await (await api(`/api/runs/${done.id}/transcript.jsonl`)).text()).trimEnd().split("\n").map((l) => (JSON.parse(l) as { seq: number }).seq);
  assert.ok(exported.length > 500, "more than one page");
  assert.deepEqual(exported, events.map((e) => e.seq), "every event, in order");
  const summary = (await (await api(`/api/runs/${done.id}/summary`)).json()) as { errors: { message: string }[] };
  assert.ok(summary.errors.some((e) => e.message === message), "the summary's errors give the message");
  const left = await docker.listContainers({ all: true, filters: { label: [`bosun.run=${done.id}`, "bosun.role=agent"] } });
  assert.deepEqual(left, [], "the agent's container is gone");
});
