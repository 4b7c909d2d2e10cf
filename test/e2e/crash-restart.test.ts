// Bosun killed with SIGKILL while the agent runs, then started again: the orphaned container,
// workspace and egress socket are removed, and the run still ends with one comment and one
// pull request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { access, readdir } from "node:fs/promises";
import { join } from "node:path";
import Docker from "dockerode";
import { isTerminal } from "../../src/runs/run.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunCluster, until } from "../helpers/bosun-process.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

const docker = new Docker();

test("a run survives SIGKILL of Bosun mid-agent; the orphans are removed", async (t) => {
  const c = await startBosunCluster(t);
  const { gh, store, workDir } = c;
  await seedDemoRepo(gh, "crashy", {
    files: { ".github/bosun.yml": 'agent:\n  command: "if [ -f /bosun/attempted ]; then node /bosun/agents/patch-agent.mjs; else touch /bosun/attempted; sleep 300; fi"\ntest:\n  command: npm test\n' },
  });
  await gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: []\n" } });

  const first = await c.start("first");
  gh.setWebhookUrl(first.webhookUrl);
  const maya = gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo: "crashy", title: demoIssue.title, body: demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo: "crashy", issue_number: issue.data.number, labels: ["bosun"] });

  const run = await until("the run", async () => (await store.list({ owner: "acme", repo: "crashy" }))[0]);
  const agent = await until("the agent container", async () => (await docker.listContainers({ filters: { label: [`bosun.run=${run.id}`, "bosun.role=agent"] } }))[0]);
  const sockets = await until("the egress socket", async () => {
    const files = (await readdir(join(workDir, run.id)).catch(() => [])).filter((f) => f.endsWith(".sock"));
    return files.length ? files : null;
  });

  first.child.kill("SIGKILL");
  await first.exited;
  assert.equal((await docker.getContainer(agent.Id).inspect()).State.Running, true, "the orphan outlives the killed process");

  gh.setWebhookUrl((await c.start("second")).webhookUrl);
  const done = await until("the run to finish", async () => {
    const r = await store.get(run.id);
    return r && isTerminal(r.state) ? r : null;
  }, 240_000);
  assert.equal(done.state, "succeeded", `${done.outcome ?? ""} ${done.lastError ?? ""}`);
  assert.ok(done.attempt >= 2, "another claim finished it");

  await assert.rejects(docker.getContainer(agent.Id).inspect(), /no such container/i, "the orphaned agent container was removed");
  for (const s of sockets) await assert.rejects(access(join(workDir, run.id, s)), "the orphaned socket was removed");
  await until("cleanup", async () => {
    const c = await docker.listContainers({ all: true, filters: { label: [`bosun.run=${run.id}`] } });
    const { Volumes } = await docker.listVolumes({ filters: { label: [`bosun.run=${run.id}`] } });
    return c.length === 0 && (Volumes ?? []).length === 0 ? true : null;
  }, 30_000);

  const repo = gh.repo("acme/crashy");
  assert.equal([...repo.comments.values()].filter((c) => c.body.includes("bosun:progress")).length, 1, "one progress comment");
  assert.equal([...repo.issues.values()].filter((i) => i.pull).length, 1, "one pull request");
  assert.equal([...repo.checkRuns.values()].filter((c) => c.name === "bosun").length, 1, "one bosun check run");
});
