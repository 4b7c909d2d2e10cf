// Bosun killed with SIGKILL while the agent works, then started again: the new process takes the
// still-running agent container over (its output replayed without recording anything twice, a
// fresh egress proxy where its socket was) instead of starting the agent again, and the run ends
// with one comment and one pull request. The start-up sweep removes this deployment's leftovers
// and leaves another deployment's alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import Docker from "dockerode";
import { readTranscript } from "../../src/audit/transcript.ts";
import { isTerminal } from "../../src/runs/run.ts";
import { startBosunCluster, until } from "../helpers/bosun-process.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const docker = new Docker();

const say = (text: string): string => `echo '${JSON.stringify({ type: "model_message", text })}'`;
// Through the egress proxy (the only way out) to a host the policy does not list: refused, and
// recorded by whichever Bosun serves the socket at that moment.
const probe = `node -e 'require("http").get({host:"127.0.0.1",port:3128,path:"http://evil.bosun.test/",headers:{host:"evil.bosun.test"}}, r => console.log(JSON.stringify({type:"tool_result",tool:"fetch",status:r.statusCode}))).on("error", e => console.log(e.message))'`;
const agentCommand = [say("before the crash"), "sleep 12", probe, say("after the crash"), "node /bosun/agents/patch-agent.mjs"].join("; ");

test("a run survives SIGKILL of Bosun mid-agent: the agent is taken over, not started again", async (t) => {
  const c = await startBosunCluster(t);
  const { gh, store, workDir, pool } = c;
  await seedDemoRepo(gh, "crashy", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(agentCommand)}\ntest:\n  command: npm test\n` } });
  await gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: []\n" } });

  const first = await c.start("first");
  gh.setWebhookUrl(first.webhookUrl);
  await labelDemoIssue(gh, "crashy");

  const run = await until("the run", async () => (await store.list({ owner: "acme", repo: "crashy" }))[0]);
  const agent = await until("the agent container", async () => (await docker.listContainers({ filters: { label: [`bosun.run=${run.id}`, "bosun.role=agent"] } }))[0]);
  await until("the agent's first words in the transcript", async () => (await readTranscript(pool, run.id)).some((e) => e.payload["text"] === "before the crash"));
  const egress = (await readdir(join(workDir, run.id))).filter((f) => f.startsWith("egress-"));
  assert.deepEqual(egress, [`egress-agent-${agent.Labels["bosun.epoch"] ?? ""}`], "the agent's egress socket folder");

  first.child.kill("SIGKILL");
  await first.exited;
  assert.equal((await docker.getContainer(agent.Id).inspect()).State.Running, true, "the agent outlives the killed process");

  // Leftovers on the same Docker host: one of this deployment's (an ended run's, with no row) and
  // one of another deployment's. The restart sweeps only its own.
  const instance = (await pool.query<{ id: string }>("SELECT id FROM bosun_instance")).rows[0]?.id ?? "";
  const leftover = async (labels: Record<string, string>): Promise<string> => {
    const made = await docker.createContainer({ Image: "bosun/agent-base:latest", Cmd: ["sleep", "600"], Labels: labels, HostConfig: { NetworkMode: "none" } });
    t.after(() => made.remove({ force: true }).catch(() => undefined));
    return made.id;
  };
  const ours = await leftover({ "bosun.run": randomUUID(), "bosun.instance": instance, "bosun.role": "agent" });
  const theirs = await leftover({ "bosun.run": randomUUID(), "bosun.instance": randomUUID(), "bosun.role": "agent" });

  gh.setWebhookUrl((await c.start("second")).webhookUrl);
  await assert.rejects(docker.getContainer(ours).inspect(), /no such container/i, "this deployment's leftover was swept at start");
  assert.ok(await docker.getContainer(theirs).inspect(), "another deployment's container was left alone");

  const done = await until("the run to finish", async () => {
    const r = await store.get(run.id);
    return r && isTerminal(r.state) ? r : null;
  }, 240_000);
  assert.equal(done.state, "succeeded", `${done.outcome ?? ""} ${done.lastError ?? ""}`);
  assert.ok(done.attempt >= 2, "another claim finished it");
  assert.deepEqual(done.facts.adoptedAgent && { container: done.facts.adoptedAgent.containerId, startedBy: done.facts.adoptedAgent.startedBy }, { container: agent.Id, startedBy: Number(agent.Labels["bosun.epoch"]) }, "the same container was taken over");

  const events = await readTranscript(pool, run.id);
  const said = events.filter((e) => e.kind === "model_message" && e.payload["source"] === "agent").map((e) => e.payload["text"]);
  assert.equal(said.filter((x) => x === "before the crash").length, 1, "output from before the crash is recorded once");
  assert.equal(said.filter((x) => x === "after the crash").length, 1, "output from after the crash is recorded");
  assert.equal(events.filter((e) => e.kind === "command" && e.payload["phase"] === "agent" && e.payload["command"] !== undefined).length, 1, "the agent was started once");
  assert.ok(events.some((e) => e.kind === "command" && e.payload["reattached"] === true));
  assert.ok(events.some((e) => e.kind === "network" && e.payload["host"] === "evil.bosun.test" && e.payload["allowed"] === false), "the new owner's proxy served the adopted agent");
  assert.deepEqual(events.filter((e) => e.kind === "tool_result" && e.payload["tool"] === "fetch").map((e) => e.payload["status"]), [403]);

  await until("cleanup", async () => {
    const left = await docker.listContainers({ all: true, filters: { label: [`bosun.run=${run.id}`] } });
    const { Volumes } = await docker.listVolumes({ filters: { label: [`bosun.run=${run.id}`] } });
    return left.length === 0 && (Volumes ?? []).length === 0 ? true : null;
  }, 30_000);
  await assert.rejects(access(join(workDir, run.id)), "the run's scratch folder, egress socket included, is gone");

  const repo = gh.repo("acme/crashy");
  assert.equal([...repo.comments.values()].filter((x) => x.body.includes("bosun:progress")).length, 1, "one progress comment");
  assert.equal([...repo.issues.values()].filter((i) => i.pull).length, 1, "one pull request");
  assert.equal([...repo.checkRuns.values()].filter((x) => x.name === "bosun").length, 1, "one bosun check run");
});
