// Bosun as separate processes (`src/main.ts`, as production runs it) on one offline GitHub and
// one Postgres, so tests can kill them with SIGKILL, stop them with SIGTERM and run several
// replicas at once.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { sign } from "@octokit/webhooks-methods";
import { RunStore } from "../../src/runs/store.ts";
import assert from "node:assert/strict";
import { createTestDatabase } from "./database.ts";
import { transcriptProblems } from "./transcript-check.ts";
import { freePort, removeDeploymentSandboxes } from "./bosun-world.ts";
import { startCheckedGitHub, type CheckedGitHub } from "./offline-github.ts";
import { approveHeldPushes, type HeldPushApprover } from "./approve-held-pushes.ts";
import { OfflineGitHub } from "../offline-github/server.ts";
import type { Delivery } from "../offline-github/webhooks.ts";

export interface BosunReplica {
  name: string;
  child: ChildProcess;
  webhookUrl: string;
  /** Everything it printed (pino JSON lines). */
  output: () => string;
  exited: Promise<number | null>;
}

export interface BosunCluster {
  gh: OfflineGitHub;
  checked: CheckedGitHub;
  pool: pg.Pool;
  store: RunStore;
  workDir: string;
  /** Approves held changes as a second maintainer (`except` names repositories a test approves by hand). */
  approver: HeldPushApprover;
  /** Starts one more Bosun process; resolves once it listens. */
  start(name: string, env?: Record<string, string>): Promise<BosunReplica>;
  /** Sends a recorded delivery again, signed as GitHub signs it, to one replica (the delivery id stays). */
  deliverAgain(d: Delivery, to: BosunReplica): Promise<number>;
}

function uncheckedGitHub(gh: OfflineGitHub): CheckedGitHub {
  return { gh, problems: [], seen: new Set(), close: () => gh.close() };
}

export async function until<T>(what: string, f: () => Promise<T | null | undefined | false>, ms = 120_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Peak resident memory of a replica's process (Linux's VmHWM), in MiB. */
export async function peakMemoryMiB(r: BosunReplica): Promise<number> {
  const status = await readFile(`/proc/${r.child.pid}/status`, "utf8");
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (!kb) throw new Error(`no VmHWM for ${r.name}`);
  return Number(kb) / 1024;
}

/**
 * An agent command that prints `lines` JSON lines (`model_message` events) of `size` bytes each,
 * or lines without end when `lines` is null, as fast as its stdout takes them.
 */
export function chattyAgentCommand(lines: number | null, size: number): string {
  return `node -e 'const l=JSON.stringify({type:"model_message",text:"x".repeat(${size - 40})})+"\\n";let i=0;const w=()=>{while(${lines === null ? "true" : `i<${lines}`}){i++;if(!process.stdout.write(l))return process.stdout.once("drain",w)}};w()'`;
}

/** What a cluster needs from its owner: a test's context, or the benchmarks' own list of clean-ups. */
export interface Lifecycle { after(fn: () => Promise<void>): void }

/**
 * One offline GitHub, one fresh database and a work folder; replicas are started on demand.
 * `checkSchemas: false` skips validating every response against GitHub's published schemas
 * (the benchmarks: the check costs CPU in the process that also measures).
 */
export async function startBosunCluster(t: Lifecycle, baseEnv: Record<string, string> = {}, o: { checkSchemas?: boolean } = {}): Promise<BosunCluster> {
  const checked = o.checkSchemas === false ? uncheckedGitHub(await OfflineGitHub.start()) : await startCheckedGitHub(null);
  const { gh } = checked;
  const db = await createTestDatabase();
  const workDir = await mkdtemp(join(tmpdir(), "bosun-cluster-"));
  const pool = new pg.Pool({ connectionString: db.url });
  const replicas: BosunReplica[] = [];
  // Held changes are approved as a second maintainer would.
  const approver = approveHeldPushes(gh);
  t.after(async () => {
    approver.stop();
    for (const r of replicas) r.child.kill("SIGKILL");
    await Promise.all(replicas.map((r) => r.exited));
    await removeDeploymentSandboxes((await pool.query<{ id: string }>("SELECT id FROM bosun_instance").catch(() => ({ rows: [] }))).rows[0]?.id ?? null);
    const problems = await transcriptProblems(pool);
    await pool.end();
    await db.drop();
    await rm(workDir, { recursive: true, force: true });
    await checked.close();
    assert.deepEqual(problems, [], "every transcript event matches schema/bosun.event.schema.json");
  });
  return {
    gh, checked, pool, store: new RunStore(pool), workDir, approver,
    async start(name, env = {}) {
      const port = await freePort();
      const child = spawn(process.execPath, ["src/main.ts"], {
        env: {
          ...process.env, APP_ID: String(gh.appId), PRIVATE_KEY: gh.privateKey, WEBHOOK_SECRET: gh.webhookSecret,
          GITHUB_API_URL: gh.url, DATABASE_URL: db.url, PORT: String(port), HOST: "127.0.0.1", BOSUN_WORK_DIR: workDir,
          BOSUN_LEASE_SECONDS: "3", BOSUN_REPLICA: name, LOG_LEVEL: "info",
          BOSUN_GITHUB_WRITE_INTERVAL_MS: "10", BOSUN_GITHUB_NOTIFY_INTERVAL_MS: "10", ...baseEnv, ...env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer): void => {
          out += d.toString();
          if (out.includes("Bosun is listening")) resolve();
        };
        child.stdout.on("data", onData);
        child.stderr.on("data", onData);
        void exited.then((code) => reject(new Error(`Bosun ${name} exited (${code}) before it listened:\n${out}`)));
      });
      const replica: BosunReplica = { name, child, webhookUrl: `http://127.0.0.1:${port}/api/github/webhooks`, output: () => out, exited };
      replicas.push(replica);
      return replica;
    },
    async deliverAgain(d, to) {
      const body = JSON.stringify(d.payload);
      const res = await fetch(to.webhookUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json", "x-github-event": d.event, "x-github-delivery": d.guid,
          "x-hub-signature-256": await sign(gh.webhookSecret, body), "user-agent": "GitHub-Hookshot/offline",
        },
        body,
      });
      await res.arrayBuffer();
      return res.status;
    },
  };
}
