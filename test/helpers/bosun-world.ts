// One offline GitHub (schema-checked), one Postgres database and one Bosun process wired
// together as in production: signed webhooks over HTTP, real Octokit, real git, real Docker.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import Docker from "dockerode";
import { pino } from "pino";
import { readEnv } from "../../src/config/env.ts";
import type { Run } from "../../src/runs/run.ts";
import { isTerminal } from "../../src/runs/run.ts";
import { approveHeldPushes, type HeldPushApprover } from "./approve-held-pushes.ts";
import { instanceLabel, type DockerSandbox } from "../../src/sandbox/docker-sandbox.ts";
import { startBosun, type BosunProcess } from "../../src/start-bosun.ts";
import type { OfflineGitHub } from "../offline-github/server.ts";
import assert from "node:assert/strict";
import { createTestDatabase } from "./database.ts";
import { transcriptProblems } from "./transcript-check.ts";
import { startCheckedGitHub } from "./offline-github.ts";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = addr && typeof addr === "object" ? addr.port : 0;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

export interface BosunWorld {
  gh: OfflineGitHub;
  bosun: BosunProcess;
  /** Approves held changes as a second maintainer; `approver.except` names repositories a test approves by hand. */
  approver: HeldPushApprover;
  waitForRun: (o: { repo: string; issue: number; timeoutMs?: number; until?: (r: Run) => boolean }) => Promise<Run>;
}

export async function startBosunWorld(t: TestContext, envOverrides: Record<string, string> = {}, o: { sandbox?: DockerSandbox; agentsDir?: string; logStream?: NodeJS.WritableStream } = {}): Promise<BosunWorld> {
  const checked = await startCheckedGitHub(null);
  const { gh } = checked;
  const db = await createTestDatabase();
  const workDir = await mkdtemp(join(tmpdir(), "bosun-e2e-"));
  const env = readEnv({
    DATABASE_URL: db.url,
    GITHUB_API_URL: gh.url,
    // The offline GitHub serves the OAuth web flow too: the dashboard's sign-in is the real one.
    GITHUB_URL: gh.webUrl,
    GITHUB_CLIENT_ID: gh.clientId,
    GITHUB_CLIENT_SECRET: gh.clientSecret,
    PORT: String(await freePort()),
    HOST: "127.0.0.1",
    BOSUN_WORK_DIR: workDir,
    BOSUN_CONCURRENCY: "2",
    // The offline GitHub has no secondary limits: writes need not wait a second each (the demo
    // test runs with the production spacing).
    BOSUN_GITHUB_WRITE_INTERVAL_MS: "10",
    BOSUN_GITHUB_NOTIFY_INTERVAL_MS: "10",
    ...envOverrides,
  });
  const log = o.logStream ? pino({ level: "debug" }, o.logStream as pino.DestinationStream) : pino({ level: process.env["LOG_LEVEL"] ?? "warn" });
  const bosun = await startBosun({ env, appId: gh.appId, privateKey: gh.privateKey, webhookSecret: gh.webhookSecret, log, sandbox: o.sandbox, agentsDir: o.agentsDir });
  gh.setWebhookUrl(bosun.webhookUrl);
  // Bosun stops before its GitHub goes away; the schema check of everything GitHub said comes last.
  t.after(async () => {
    const problems = await transcriptProblems(bosun.pool);
    await bosun.close();
    // Closing hands agents still at work over to a next owner, which a test world never has.
    await removeDeploymentSandboxes(await bosun.store.instanceId().catch(() => null));
    await db.drop();
    await rm(workDir, { recursive: true, force: true });
    await checked.close();
    assert.deepEqual(problems, [], "every transcript event matches schema/bosun.event.schema.json");
  });
  // Held changes are approved as a second maintainer would (tests of the hold exempt their repositories).
  const approver = approveHeldPushes(gh);
  t.after(() => approver.stop());
  return {
    gh,
    bosun,
    approver,
    waitForRun: async ({ repo, issue, timeoutMs = 180_000, until = (r: Run) => isTerminal(r.state) }) => {
      const [owner, name] = repo.split("/");
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        await gh.hooks.settled();
        const runs = await bosun.store.list({ owner, repo: name, issueNumber: issue });
        const last = runs[runs.length - 1];
        if (last && until(last)) {
          // A finished run may still be cleaning up (tokens, containers): let the worker finish.
          if (!isTerminal(last.state)) return last;
          await bosun.worker.idle();
          return (await bosun.store.get(last.id)) ?? last;
        }
        if (Date.now() > deadline) throw new Error(`run for ${repo}#${issue} did not get there in time; last state: ${last?.state ?? "none"}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
  };
}

/** Removes every container and volume a test deployment left on the Docker host. */
export async function removeDeploymentSandboxes(instance: string | null): Promise<void> {
  if (!instance) return;
  const docker = new Docker();
  const label = [`${instanceLabel}=${instance}`];
  for (const c of await docker.listContainers({ all: true, filters: { label } }).catch(() => [])) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
  const { Volumes } = await docker.listVolumes({ filters: { label } }).catch(() => ({ Volumes: [] }));
  for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove({ force: true }).catch(() => undefined);
}
