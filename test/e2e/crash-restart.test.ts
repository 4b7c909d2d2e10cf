// Bosun killed with SIGKILL while the agent runs, then started again: the orphaned container,
// workspace and egress socket are removed, and the run still ends with one comment and one
// pull request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { access, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import pg from "pg";
import { RunStore } from "../../src/runs/store.ts";
import { isTerminal } from "../../src/runs/run.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { createTestDatabase } from "../helpers/database.ts";
import { freePort } from "../helpers/bosun-world.ts";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

const docker = new Docker();

function startProcess(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["src/main.ts"], { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (out.includes("Bosun is listening")) resolve(child);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => reject(new Error(`Bosun exited (${code}) before it listened:\n${out}`)));
  });
}

async function until<T>(what: string, f: () => Promise<T | null | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test("a run survives SIGKILL of Bosun mid-agent; the orphans are removed", async (t) => {
  const checked = await startCheckedGitHub(null);
  const { gh } = checked;
  const db = await createTestDatabase();
  const workDir = await mkdtemp(join(tmpdir(), "bosun-crash-"));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env, APP_ID: String(gh.appId), PRIVATE_KEY: gh.privateKey, WEBHOOK_SECRET: gh.webhookSecret,
    GITHUB_API_URL: gh.url, DATABASE_URL: db.url, PORT: String(port), HOST: "127.0.0.1", BOSUN_WORK_DIR: workDir,
    BOSUN_LEASE_SECONDS: "3", LOG_LEVEL: "info",
  };
  const pool = new pg.Pool({ connectionString: db.url });
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) c.kill("SIGKILL");
    await pool.end();
    await db.drop();
    await rm(workDir, { recursive: true, force: true });
    await checked.close();
  });
  gh.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`);
  await seedDemoRepo(gh, "crashy", {
    files: { ".github/bosun.yml": 'agent:\n  command: "if [ -f /bosun/attempted ]; then node /bosun/agents/patch-agent.mjs; else touch /bosun/attempted; sleep 300; fi"\ntest:\n  command: npm test\n' },
  });
  await gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: []\n" } });

  children.push(await startProcess(env));
  const maya = gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo: "crashy", title: demoIssue.title, body: demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo: "crashy", issue_number: issue.data.number, labels: ["bosun"] });

  const store = new RunStore(pool);
  const run = await until("the run", async () => (await store.list({ owner: "acme", repo: "crashy" }))[0]);
  const agent = await until("the agent container", async () => (await docker.listContainers({ filters: { label: [`bosun.run=${run.id}`, "bosun.role=agent"] } }))[0]);
  const sockets = await until("the egress socket", async () => {
    const files = (await readdir(join(workDir, run.id)).catch(() => [])).filter((f) => f.endsWith(".sock"));
    return files.length ? files : null;
  });

  children[0]?.kill("SIGKILL");
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await docker.getContainer(agent.Id).inspect()).State.Running, true, "the orphan outlives the killed process");

  children.push(await startProcess(env));
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
