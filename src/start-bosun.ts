// Starts one Bosun process: migrations, the Probot server (webhooks), and the run worker.
// Used by main.ts, the demo and the end-to-end tests alike, so they all run the same code.
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { pino, type Logger } from "pino";
import { Probot, Server } from "probot";
import type { Env } from "./config/env.ts";
import { migrate } from "./db/migrate.ts";
import { configureGitHubClients } from "./github/octokit.ts";
import { bosunApp } from "./index.ts";
import { CommandStore } from "./runs/command-store.ts";
import { RunStore } from "./runs/store.ts";
import { sweepLeftovers } from "./runs/sweep.ts";
import { observeWebhookResponses, operationsHandler } from "./ops/http.ts";
import { readRunGaugesFrom } from "./ops/metrics.ts";
import { limitWebhookBodies } from "./ops/webhook-body-limit.ts";
import { Worker } from "./runs/worker.ts";
import { dashboard } from "./web/dashboard.ts";
import { prepareSandboxCa } from "./sandbox/ca-certs.ts";
import { DockerSandbox } from "./sandbox/docker-sandbox.ts";
import type { Sandbox } from "./sandbox/sandbox.ts";

export interface BosunProcess {
  /** Where GitHub must send webhooks. */
  webhookUrl: string;
  url: string;
  store: RunStore;
  pool: pg.Pool;
  worker: Worker;
  sandbox: Sandbox;
  log: Logger;
  close(): Promise<void>;
}

export interface StartBosunOptions {
  env: Env;
  appId: number | string;
  privateKey: string;
  webhookSecret: string;
  log?: Logger;
  sandbox?: Sandbox;
  /** Where agents that ship into /bosun/agents come from (default: the repository's agents/). */
  agentsDir?: string;
}

export const bundledAgentsDir = fileURLToPath(new URL("../agents", import.meta.url));

export async function startBosun(o: StartBosunOptions): Promise<BosunProcess> {
  const { env } = o;
  const log = o.log ?? pino({ level: process.env["LOG_LEVEL"] ?? "info", base: { app: "bosun" } });
  const workDir = env.BOSUN_WORK_DIR ?? join(tmpdir(), "bosun-work");
  await mkdir(workDir, { recursive: true });
  // Checked (a bad setting stops Bosun here) and written where sandboxes bind it from (src/sandbox/ca-certs.ts).
  const sandboxCa = await prepareSandboxCa(env.BOSUN_SANDBOX_CA_CERTS, workDir);
  if (sandboxCa) log.info({ source: sandboxCa.source, certificates: sandboxCa.certificates }, "sandboxes trust extra certificate authorities");
  // Named, so pg_stat_activity shows which connections are Bosun's.
  const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 10, application_name: "bosun" });
  pool.on("error", (e) => log.error({ err: e }, "idle Postgres connection failed"));
  try {
    await migrate(env.DATABASE_URL, log);
  } catch (e) {
    await pool.end();
    throw new Error(`[bosun/db] could not reach or migrate Postgres at ${redactUrl(env.DATABASE_URL)}: ${(e as Error).message}`, { cause: e });
  }
  const store = new RunStore(pool);
  const commands = new CommandStore(pool);
  const sandbox = o.sandbox ?? new DockerSandbox();
  sandbox.instance = await store.instanceId();
  sandbox.helperImage = env.BOSUN_AGENT_IMAGE;

  const Octokit = configureGitHubClients({ writeMs: env.BOSUN_GITHUB_WRITE_INTERVAL_MS, notifyMs: env.BOSUN_GITHUB_NOTIFY_INTERVAL_MS });
  const ProbotWithDefaults = Probot.defaults({
    Octokit,
    appId: o.appId,
    privateKey: o.privateKey,
    secret: o.webhookSecret,
    baseUrl: env.GITHUB_API_URL,
    log: log.child({ name: "probot" }),
  });
  const server = new Server({ Probot: ProbotWithDefaults, port: env.PORT, host: env.HOST, log: log.child({ name: "server" }), enableStaticFiles: false });
  let worker: Worker | null = null;
  let app: Probot | null = null;
  readRunGaugesFrom(pool);
  server.addHandler(operationsHandler({ pool, sandbox }));
  let publicUrl = env.BOSUN_PUBLIC_URL ?? "";
  const web = dashboard({
    pool, store, commands, env, log: log.child({ name: "dashboard" }), app: () => app, publicUrl: () => publicUrl,
    sessionSecret: env.BOSUN_SESSION_SECRET ?? o.privateKey,
  });
  server.addHandler(web.handler);
  await server.load((probot) => {
    app = probot;
    bosunApp({ store, commands, pool, env, onRunQueued: () => worker?.poke() })(probot);
  });
  if (!app) throw new Error("[bosun] the Probot app did not load");
  worker = new Worker({ app, appId: Number(o.appId), pool, store, commands, sandbox, env, log: log.child({ name: "worker" }), workDir, sandboxCa, bundledAgentsDir: o.agentsDir ?? bundledAgentsDir }, { concurrency: env.BOSUN_CONCURRENCY, replica: env.BOSUN_REPLICA, leaseMs: env.BOSUN_LEASE_SECONDS * 1000, sweepMs: env.BOSUN_SWEEP_SECONDS * 1000 });
  await sweepLeftovers({ store, sandbox, workDir, log });
  const http = await server.start();
  // Before the timing listener, so a refused body's 413 is timed too.
  limitWebhookBodies(http, log.child({ name: "webhooks" }));
  observeWebhookResponses(http);
  await worker.start();
  const addr = http.address();
  const port = addr && typeof addr === "object" ? addr.port : env.PORT;
  const host = env.HOST === "0.0.0.0" ? "127.0.0.1" : env.HOST;
  const url = `http://${host}:${port}`;
  publicUrl ||= url;
  const running = worker;
  return {
    url,
    webhookUrl: `${url}/api/github/webhooks`,
    store, pool, worker: running, sandbox, log,
    async close() {
      await running.stop();
      web.close();
      await server.stop();
      await pool.end();
    },
  };
}

function redactUrl(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = "***";
    return url.toString();
  } catch {
    return "(unparseable DATABASE_URL)";
  }
}


