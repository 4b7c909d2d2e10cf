// The GitHub App manifest the first-start setup sends GitHub: app.yml's name, permissions and
// events, with this Bosun's own addresses ("Registering a GitHub App from a manifest":
// https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest).
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

export const appYmlPath = fileURLToPath(new URL("../../app.yml", import.meta.url));

/** The manifest parameters GitHub documents; app.yml may set any of them. */
export interface AppManifest {
  name?: string;
  url: string;
  description?: string;
  public?: boolean;
  hook_attributes: { url: string; active?: boolean };
  redirect_url: string;
  callback_urls: string[];
  setup_url?: string;
  setup_on_update?: boolean;
  request_oauth_on_install?: boolean;
  default_permissions?: Record<string, string>;
  default_events?: string[];
}

/** Bosun's paths: where GitHub sends webhooks, people after registering, signing in and installing. */
export const webhookPath = "/api/github/webhooks";
export const setupCallbackPath = "/setup/callback";
export const signInCallbackPath = "/login/callback";
export const afterInstallPath = "/runs";

export async function buildManifest(publicUrl: string, path = appYmlPath): Promise<AppManifest> {
  const yml: unknown = parseYaml(await readFile(path, "utf8"));
  if (yml === null || typeof yml !== "object" || Array.isArray(yml)) throw new Error(`[bosun/setup] ${path} is not a GitHub App manifest (a YAML mapping)`);
  const base = publicUrl.replace(/\/+$/, "");
  const at = (p: string): string => `${base}${p}`;
  const manifest = yml as Partial<AppManifest>;
  return {
    ...manifest,
    url: manifest.url ?? base,
    hook_attributes: { ...manifest.hook_attributes, url: at(webhookPath) },
    redirect_url: at(setupCallbackPath),
    callback_urls: [at(signInCallbackPath)],
    // After installing, GitHub sends the person here (with `installation_id` and `setup_action`).
    setup_url: at(afterInstallPath),
    // The dashboard asks people to sign in when they need to; installing does not.
    request_oauth_on_install: false,
  };
}
