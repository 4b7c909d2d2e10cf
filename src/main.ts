// Bosun in production: a GitHub App's credentials (from the environment, or the file the first
// start's setup saved; without either, that setup), Postgres, Docker.
import { pino } from "pino";
import { readEnv } from "./config/env.ts";
import { readCaBundle, SandboxCaError } from "./sandbox/ca-certs.ts";
import { lookUpAppCredentials } from "./setup/app-credentials.ts";
import { setUpGitHubApp } from "./setup/set-up-github-app.ts";
import { SetupRefused } from "./setup/setup-server.ts";
import { startBosun } from "./start-bosun.ts";

const env = readEnv();
// A CA bundle named but missing or not PEM stops Bosun here, before anything else starts.
if (env.BOSUN_SANDBOX_CA_CERTS !== undefined) {
  await readCaBundle(env.BOSUN_SANDBOX_CA_CERTS).catch((e: unknown) => {
    console.error(e instanceof SandboxCaError ? `[bosun/config] ${e.message}` : String(e));
    process.exit(2);
  });
}
const log = pino({ level: process.env["LOG_LEVEL"] ?? "info", base: { app: "bosun" } });
const found = await lookUpAppCredentials(env).catch((e: unknown) => {
  // A credentials file that exists but cannot be used: its message says which and what to do.
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(2);
});
if (found.kind === "incomplete") {
  console.error(`Bosun needs all of the GitHub App's credentials; missing: ${found.missing.join(", ")} (see README, "Creating the GitHub App").\nUnset them all to register a new app from this Bosun's setup page instead.`);
  process.exit(2);
}
let app = found.kind === "ready" ? found.app : null;
if (!app) {
  try {
    app = await setUpGitHubApp(env, log);
  } catch (e) {
    if (!(e instanceof SetupRefused)) throw e;
    console.error(`${e.message}\nOr set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET of an app you registered (README, "Creating the GitHub App").\nTo try Bosun without GitHub, run \`npm run demo\`: it starts the bundled offline GitHub.`);
    process.exit(2);
  }
}
const bosun = await startBosun({ env: app.env, appId: app.appId, privateKey: app.privateKey, webhookSecret: app.webhookSecret, log });
bosun.log.info({ webhooks: bosun.webhookUrl, credentials: app.source }, "Bosun is listening");

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    bosun.log.info({ signal }, "draining: no new runs are claimed; steps in progress finish, agents at work are handed over to the next owner");
    bosun.close().then(() => process.exit(0), (e: unknown) => {
      bosun.log.error({ err: e }, "shutdown failed");
      process.exit(1);
    });
  });
}
