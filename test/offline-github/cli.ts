// `npm run offline-github -- [--port N] [--webhook-url URL] [--seed] [--without-app]`: the offline
// GitHub as a standalone server. It prints the app id, the private key's path and the webhook
// secret, so a Bosun started with `npm start` can use it as its GitHub, and the app's OAuth client
// credentials. With --without-app there is no app until Bosun's setup page registers one from its
// manifest (the users and the org of --seed are there to sign in as; install the app afterwards).
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
    "without-app": { type: "boolean", default: false },
  },
});

const withoutApp = values["without-app"];
const gh = await OfflineGitHub.start({ port: Number(values.port), host: values.host, webhookUrl: values["webhook-url"] ?? null, registerApp: !withoutApp });
if (values.seed) {
  gh.createUser("maya");
  gh.createUser("owen");
  gh.createOrg("acme", { admins: withoutApp ? ["maya"] : [], members: withoutApp ? ["owen"] : ["maya", "owen"] });
  await gh.createRepo("acme/widgets", { files: demoRepoFiles });
  gh.addCollaborator("acme/widgets", "maya", "maintain");
  gh.addCollaborator("acme/widgets", "owen", "write");
  if (!withoutApp) gh.install("acme");
}
const users = values.seed ? { users: { maya: gh.userToken("maya"), owen: gh.userToken("owen") } } : {};
if (withoutApp) {
  console.log(JSON.stringify({ api_url: gh.url, web_url: gh.webUrl, app: "none yet: start Bosun with GITHUB_API_URL and GITHUB_URL set to these and no app credentials, and register it from its setup page", ...users }, null, 2));
} else {
  const dir = await mkdtemp(join(tmpdir(), "offline-github-app-"));
  const keyPath = join(dir, "private-key.pem");
  await writeFile(keyPath, gh.privateKey, { mode: 0o600 });
  console.log(JSON.stringify({
    api_url: gh.url,
    web_url: gh.webUrl,
    app_id: gh.appId,
    client_id: gh.clientId,
    client_secret: gh.clientSecret,
    private_key_path: keyPath,
    webhook_secret: gh.webhookSecret,
    webhook_url: values["webhook-url"] ?? null,
    ...users,
  }, null, 2));
}
const stop = (): void => void gh.close().then(() => process.exit(0));
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
