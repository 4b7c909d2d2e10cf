// SIGTERM (a deploy, a scale-down): Bosun stops claiming, leaves an agent that is still working
// to the next owner instead of waiting hours for it, and exits. Another replica takes the agent
// over, and the run completes once.
import { test } from "node:test";
import assert from "node:assert/strict";
import Docker from "dockerode";
import { readTranscript } from "../../src/audit/transcript.ts";
import { isTerminal } from "../../src/runs/run.ts";
import { startBosunCluster, until } from "../helpers/bosun-process.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const docker = new Docker();
const say = (text: string): string => `echo '${JSON.stringify({ type: "model_message", text })}'`;

test("SIGTERM hands a working agent over to another replica and exits without waiting for it", async (t) => {
  const c = await startBosunCluster(t);
  const { gh, store, pool } = c;
  const agentCommand = [say("before the deploy"), "sleep 15", say("after the deploy"), "node /bosun/agents/patch-agent.mjs"].join("; ");
  await seedDemoRepo(gh, "deployed", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(agentCommand)}\ntest:\n  command: npm test\n` } });

  const a = await c.start("replica-a");
  gh.setWebhookUrl(a.webhookUrl);
  await labelDemoIssue(gh, "deployed");
  const run = await until("the run", async () => (await store.list({ owner: "acme", repo: "deployed" }))[0]);
  const agent = await until("the agent container", async () => (await docker.listContainers({ filters: { label: [`bosun.run=${run.id}`, "bosun.role=agent"] } }))[0]);
  await until("the agent's first words", async () => (await readTranscript(pool, run.id)).some((e) => e.payload["text"] === "before the deploy"));

  const b = await c.start("replica-b");
  gh.setWebhookUrl(b.webhookUrl);
  const asked = Date.now();
  a.child.kill("SIGTERM");
  assert.equal(await a.exited, 0, "replica A exits cleanly");
  assert.ok(Date.now() - asked < 10_000, `replica A exited without waiting for the agent's 15 s (${Date.now() - asked} ms)`);
  assert.match(a.output(), /draining: no new runs are claimed/);
  assert.equal((await docker.getContainer(agent.Id).inspect()).State.Running, true, "the agent kept working");

  const done = await until("the run to finish", async () => {
    const r = await store.get(run.id);
    return r && isTerminal(r.state) ? r : null;
  }, 240_000);
  assert.equal(done.state, "succeeded", `${done.outcome ?? ""} ${done.lastError ?? ""}`);
  assert.equal(done.facts.adoptedAgent?.containerId, agent.Id, "replica B took the same container over");
  const delivery = gh.hooks.deliveries.find((d) => d.event === "issues" && d.action === "labeled")?.guid ?? "";
  assert.match(b.output(), new RegExp(`"run":"${run.id}"[^\n]*"delivery":"${delivery}"[^\n]*"msg":"run state changed"`), "B's log lines carry the run and the delivery that asked for it");

  const events = await readTranscript(pool, run.id);
  const said = events.filter((e) => e.kind === "model_message" && e.payload["source"] === "agent").map((e) => e.payload["text"]);
  assert.deepEqual(said.filter((x) => x === "before the deploy" || x === "after the deploy"), ["before the deploy", "after the deploy"], "each line once, in order");
  const agentCommands = events.filter((e) => e.kind === "command" && e.payload["phase"] === "agent");
  assert.equal(agentCommands.filter((e) => e.payload["command"] !== undefined).length, 1, "the agent was started once");
  assert.equal(agentCommands.filter((e) => e.payload["handed_over"] === true).length, 1, "A says it handed the agent over");
  assert.equal(agentCommands.filter((e) => e.payload["reattached"] === true).length, 1, "B says it took it over");
  const usage = await pool.query<{ seconds: number }>("SELECT seconds FROM sandbox_usage WHERE run_id = $1 AND phase = 'agent' ORDER BY id", [run.id]);
  const total = usage.rows.reduce((n, r) => n + r.seconds, 0);
  assert.ok(usage.rows.length === 2 && total >= 14 && total < 40, `the agent's time is counted once across both owners (${usage.rows.map((r) => r.seconds.toFixed(1)).join(" + ")} s)`);

  const repo = gh.repo("acme/deployed");
  assert.equal([...repo.comments.values()].filter((x) => x.user === "bosun[bot]" && !x.body.includes("bosun:reply")).length, 1, "one progress comment (besides the answer to the held change's approval)");
  assert.equal([...repo.issues.values()].filter((i) => i.pull).length, 1, "one pull request");
});
