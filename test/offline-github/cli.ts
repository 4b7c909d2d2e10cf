// `npm run offline-github -- [--port N] [--webhook-url URL] [--seed]`: the offline GitHub as a
// standalone server. It prints the app id, the private key's path and the webhook secret, so a
// Bosun started with `npm start` can use it as its GitHub, and the app's OAuth client credentials.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { OfflineGitHub } from "./server.ts";
import { demoRepoFiles } from "../fixtures/demo-repo.ts";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "webhook-url": { type: "string" },
    seed: { type: "boolean", default: false },
  },
});

const gh = await OfflineGitHub.start({ port: Number(values.port), host: values.host, webhookUrl: values["webhook-url"] ?? null });
const dir = await mkdtemp(join(tmpdir(), "offline-github-app-"));
const keyPath = join(dir, "private-key.pem");
await writeFile(keyPath, gh.privateKey, { mode: 0o600 });
if (values.seed) {
  gh.createUser("maya");
  gh.createUser("owen");
  gh.createOrg("acme", { members: ["maya", "owen"] });
  await gh.createRepo("acme/widgets", { files: demoRepoFiles });
  gh.addCollaborator("acme/widgets", "maya", "maintain");
  gh.addCollaborator("acme/widgets", "owen", "write");
  gh.install("acme");
}
console.log(JSON.stringify({
  api_url: gh.url,
  web_url: gh.webUrl,
  app_id: gh.appId,
  client_id: gh.clientId,
  client_secret: gh.clientSecret,
  private_key_path: keyPath,
  webhook_secret: gh.webhookSecret,
  webhook_url: values["webhook-url"] ?? null,
  ...(values.seed ? { users: { maya: gh.userToken("maya"), owen: gh.userToken("owen") } } : {}),
}, null, 2));
const stop = (): void => void gh.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
