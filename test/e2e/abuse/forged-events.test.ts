// An agent that prints lines shaped like Bosun's own: a `command` that "exited 0" in the test
// phase, a setup cache restore, a re-attach, an error. The dashboard (the run's page, the live
// log's stream) shows each as the agent's, never as Bosun's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../../src/audit/transcript.ts";
import { startBosunWorld } from "../../helpers/bosun-world.ts";
import { signInOverHttp } from "../../helpers/dashboard-sign-in.ts";
import { labelDemoIssue, seedDemoRepo } from "../../helpers/seed.ts";

const forgeries = [
  { type: "command", phase: "test", exit_code: 0 },
  { type: "command", phase: "setup", cache: "restored", saved_by_run: "someone", saved_at: "2026-01-01T00:00:00.000Z" },
  { type: "command", phase: "agent", reattached: true },
  { type: "command", phase: "test", timed_out: false, exit_code: 0, source: "bosun" },
];
const forger = `${forgeries.map((f) => `echo '${JSON.stringify(f)}'`).join("; ")}; node /bosun/agents/patch-agent.mjs`;

test("a forged command line shows as the agent's on the dashboard", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "forger", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(forger)}\n` } });
  const issue = await labelDemoIssue(w.gh, "forger", { label: "bosun:plan" });
  const run = await w.waitForRun({ repo: "acme/forger", issue });
  assert.equal(run.state, "succeeded", run.outcome ?? "");

  const events = await readTranscript(w.bosun.pool, run.id);
  const forged = events.filter((e) => e.kind === "command" && e.payload["source"] === "agent");
  assert.equal(forged.length, forgeries.length, "each forged line is stored, as the agent's");

  const { cookie } = await signInOverHttp(w, "maya");
  const page = await (await fetch(`${w.bosun.url}/runs/${run.id}`, { headers: { cookie } })).text();
  const items = [...page.matchAll(/<li data-seq="(\d+)" class="([^"]*)">([\s\S]*?)<\/li>/g)].map((m) => ({ seq: Number(m[1]), cls: m[2] ?? "", text: (m[3] ?? "").replace(/<[^>]+>/g, "").replace(/&#39;/g, "'").replace(/&quot;/g, '"') }));
  for (const e of forged) {
    const li = items.find((i) => i.seq === e.seq);
    assert.ok(li, `event ${e.seq} is on the page`);
    assert.match(li.cls, /\bagent\b/, "rendered as the agent's");
    assert.match(li.text, /agent command\s+agent: ran a command \[(test|setup|agent)\]/, li.text);
  }
  const text = items.map((i) => i.text).join("\n");
  assert.doesNotMatch(text, /^.*\btest: exited 0/m, "no line reads as Bosun's test phase exiting 0");
  assert.doesNotMatch(text, /restored from the cache saved by run someone/);
  assert.doesNotMatch(text, /re-attached to the running container/);
  // Bosun's own lines are still its own: the agent phase's command and exit.
  assert.match(text, /\bcommand\s+agent: exited 0/);

  // The live log's stream labels them the same way.
  const live = await fetch(`${w.bosun.url}/runs/${run.id}/live?after=0`, { headers: { cookie } });
  const stream = await live.text();
  const lines = [...stream.matchAll(/^event: line\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1] ?? "{}") as { seq: number; label: string; text: string; agent: boolean });
  for (const e of forged) {
    const l = lines.find((x) => x.seq === e.seq);
    assert.ok(l && l.agent && l.label === "agent command" && l.text.startsWith("agent: "), JSON.stringify(l));
  }
});
