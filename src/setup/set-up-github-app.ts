// The first start: serve the setup page until the GitHub App is registered and its credentials
// saved, then hand them over so Bosun starts in this same process, on the same port.
import type { Logger } from "pino";
import type { Env } from "../config/env.ts";
import type { AppIdentity } from "./app-credentials.ts";
import { serveSetup } from "./setup-server.ts";

export async function setUpGitHubApp(env: Env, log: Logger): Promise<AppIdentity> {
  const setup = await serveSetup({ env, log: log.child({ name: "setup" }) });
  const saved = await setup.registered;
  await setup.close();
  return {
    appId: saved.APP_ID,
    privateKey: saved.PRIVATE_KEY,
    webhookSecret: saved.WEBHOOK_SECRET,
    source: "file",
    // What the environment sets wins, as on later starts.
    env: { ...env, GITHUB_CLIENT_ID: env.GITHUB_CLIENT_ID ?? saved.GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET: env.GITHUB_CLIENT_SECRET ?? saved.GITHUB_CLIENT_SECRET },
  };
}
