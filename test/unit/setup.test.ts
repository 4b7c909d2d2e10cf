// The first-start setup's pieces: when it refuses to run, the manifest it sends, where the form
// goes, the credentials file (0600, refused when others may read it), and which credentials win.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, readdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readEnv } from "../../src/config/env.ts";
import { lookUpAppCredentials } from "../../src/setup/app-credentials.ts";
import { readCredentialsFile, writeCredentialsFile, type AppCredentials } from "../../src/setup/credentials-file.ts";
import { buildManifest } from "../../src/setup/manifest.ts";
import { newAppUrl, setupRefusal } from "../../src/setup/setup-server.ts";

const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END RSA PRIVATE KEY-----\n";
const saved: AppCredentials = { APP_ID: "42", PRIVATE_KEY: pem, WEBHOOK_SECRET: "whsec-saved", GITHUB_CLIENT_ID: "Iv1.saved", GITHUB_CLIENT_SECRET: "client-secret-saved", APP_HTML_URL: "https://github.com/apps/bosun-acme" };

async function scratch(t: { after: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-setup-unit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("setup refuses what it cannot do safely, and says why", async (t) => {
  const file = join(await scratch(t), "github-app.json");
  const refusal = (env: Record<string, string>) => setupRefusal(readEnv({ BOSUN_CREDENTIALS_FILE: file, ...env }));
  assert.match(await refusal({}) ?? "", /set BOSUN_PUBLIC_URL/);
  assert.match(await refusal({ BOSUN_PUBLIC_URL: "http://bosun.example.com" }) ?? "", /plain http .* in the clear/);
  assert.match(await refusal({ BOSUN_PUBLIC_URL: "https://example.com/bosun" }) ?? "", /must be an origin alone/);
  assert.match(await refusal({ BOSUN_PUBLIC_URL: "https://bosun.example.com", GITHUB_API_URL: "http://ghe.example.com/api/v3" }) ?? "", /GITHUB_API_URL=.* private key would come back in the clear/);
  assert.match(await refusal({ BOSUN_PUBLIC_URL: "https://bosun.example.com", BOSUN_CREDENTIALS_FILE: "/dev/null/github-app.json" }) ?? "", /cannot write the credentials file in \/dev\/null .*set BOSUN_CREDENTIALS_FILE/);
  assert.equal(await refusal({ BOSUN_PUBLIC_URL: "https://bosun.example.com" }), null);
  assert.equal(await refusal({ BOSUN_PUBLIC_URL: "http://127.0.0.1:3000" }), null, "plain http on loopback never leaves the host");
});

test("the manifest is app.yml with this Bosun's addresses, and the form goes to GITHUB_URL, for GITHUB_ORG when set", async () => {
  const m = await buildManifest("https://bosun.example.com/");
  assert.deepEqual(m.hook_attributes, { url: "https://bosun.example.com/api/github/webhooks" });
  assert.equal(m.redirect_url, "https://bosun.example.com/setup/callback");
  assert.deepEqual(m.callback_urls, ["https://bosun.example.com/login/callback"]);
  assert.equal(m.setup_url, "https://bosun.example.com/runs");
  assert.equal(m.public, false);
  assert.deepEqual(m.default_events, ["issues", "issue_comment", "pull_request", "pull_request_review"]);
  assert.deepEqual(m.default_permissions, { contents: "write", workflows: "write", pull_requests: "write", issues: "write", checks: "write", administration: "read", members: "read", metadata: "read" });
  assert.equal(newAppUrl({ GITHUB_URL: "https://github.com", GITHUB_ORG: undefined }, "s t"), "https://github.com/settings/apps/new?state=s%20t");
  assert.equal(newAppUrl({ GITHUB_URL: "https://ghe.example.com/", GITHUB_ORG: "acme" }, "st"), "https://ghe.example.com/organizations/acme/settings/apps/new?state=st");
  assert.throws(() => readEnv({ GITHUB_ORG: "acme/../evil" }), /GITHUB_ORG: must be a GitHub organization's login/);
});

test("the credentials file is written 0600 in a 0700 folder, and refused when others may read it or it is broken", async (t) => {
  const dir = await scratch(t);
  const file = join(dir, "state", "github-app.json");
  assert.equal(await readCredentialsFile(file), null, "no file: a first start");
  await writeCredentialsFile(file, saved);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(join(dir, "state"))).mode & 0o777, 0o700);
  assert.deepEqual(await readCredentialsFile(file), saved);
  // An app's file is never replaced by another app's, and no temporary file is left behind.
  await assert.rejects(writeCredentialsFile(file, { ...saved, APP_ID: "43" }), { code: "EEXIST" });
  assert.deepEqual(await readCredentialsFile(file), saved);
  assert.deepEqual(await readdir(join(dir, "state")), ["github-app.json"]);
  await chmod(file, 0o644);
  await assert.rejects(readCredentialsFile(file), (e: Error) => /may be read by other users \(mode 644\); run `chmod 600/.test(e.message) && !e.message.includes("whsec-saved"));
  await writeFile(file, JSON.stringify({ ...saved, APP_ID: "not-a-number" }), { mode: 0o600 });
  await chmod(file, 0o600);
  await assert.rejects(readCredentialsFile(file), (e: Error) => /APP_ID: must be the app's numeric id.*remove it to register the app again/.test(e.message) && !e.message.includes(pem.split("\n")[1] ?? "x"));
  await writeFile(file, "{", { mode: 0o600 });
  await assert.rejects(readCredentialsFile(file), /is not JSON/);
});

test("the environment's app wins over the file's; the file's OAuth client is used only for its own app", async (t) => {
  const file = join(await scratch(t), "github-app.json");
  const look = (env: Record<string, string>) => lookUpAppCredentials(readEnv({ BOSUN_CREDENTIALS_FILE: file, ...env }));
  assert.deepEqual(await look({}), { kind: "none" });
  assert.deepEqual(await look({ APP_ID: "", PRIVATE_KEY: "", WEBHOOK_SECRET: "" }), { kind: "none" }, "empty values (a compose file's `APP_ID=`) are no values");
  assert.deepEqual(await look({ APP_ID: "7" }), { kind: "incomplete", missing: ["PRIVATE_KEY (or PRIVATE_KEY_PATH)", "WEBHOOK_SECRET"] });
  await writeCredentialsFile(file, saved);

  const fromFile = await look({ GITHUB_CLIENT_ID: "Iv1.env" });
  assert.equal(fromFile.kind, "ready");
  if (fromFile.kind !== "ready") return;
  assert.deepEqual([fromFile.app.source, fromFile.app.appId, fromFile.app.privateKey, fromFile.app.webhookSecret], ["file", "42", pem, "whsec-saved"]);
  assert.deepEqual([fromFile.app.env.GITHUB_CLIENT_ID, fromFile.app.env.GITHUB_CLIENT_SECRET], ["Iv1.env", "client-secret-saved"], "a variable set in the environment wins");

  const otherApp = await look({ APP_ID: "7", PRIVATE_KEY: "env-key", WEBHOOK_SECRET: "env-secret" });
  assert.equal(otherApp.kind, "ready");
  if (otherApp.kind !== "ready") return;
  assert.deepEqual([otherApp.app.source, otherApp.app.appId, otherApp.app.privateKey, otherApp.app.webhookSecret], ["environment", "7", "env-key", "env-secret"]);
  assert.equal(otherApp.app.env.GITHUB_CLIENT_ID, undefined, "another app's OAuth client is not borrowed");

  const sameApp = await look({ APP_ID: "42", PRIVATE_KEY: "env-key", WEBHOOK_SECRET: "env-secret" });
  assert.equal(sameApp.kind === "ready" ? sameApp.app.env.GITHUB_CLIENT_ID : null, "Iv1.saved");
});
