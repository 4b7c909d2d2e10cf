// Bosun in production: a GitHub App's credentials from the environment, Postgres, Docker.
import { readFile } from "node:fs/promises";
import { readEnv } from "./config/env.ts";
import { startBosun } from "./start-bosun.ts";

const env = readEnv();
if (!env.APP_ID || !(env.PRIVATE_KEY || env.PRIVATE_KEY_PATH) || !env.WEBHOOK_SECRET) {
  console.error("Bosun needs a GitHub App: set APP_ID, PRIVATE_KEY (or PRIVATE_KEY_PATH) and WEBHOOK_SECRET (see README, \"Deploying\").\nTo try Bosun without one, run `npm run demo`: it starts the bundled offline GitHub.");
  process.exit(2);
}
const privateKey = env.PRIVATE_KEY ?? (await readFile(env.PRIVATE_KEY_PATH ?? "", "utf8"));
const bosun = await startBosun({ env, appId: env.APP_ID, privateKey, webhookSecret: env.WEBHOOK_SECRET });
bosun.log.info({ webhooks: bosun.webhookUrl }, "Bosun is listening");

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
