// Where the GitHub App's credentials come from: the environment when it names the app, else the
// file the first-start setup wrote. The app's id, key and webhook secret come as one set from one
// place, so a key of one app is never paired with the id of another.
import { readFile } from "node:fs/promises";
import type { Env } from "../config/env.ts";
import { readCredentialsFile } from "./credentials-file.ts";

export interface AppIdentity {
  appId: string;
  privateKey: string;
  webhookSecret: string;
  /** The environment with the OAuth client filled in from the file where the environment has none. */
  env: Env;
  source: "environment" | "file";
}

export type CredentialsLookup =
  | { kind: "ready"; app: AppIdentity }
  /** Some of the app's variables are set, not all: a mistake to point out, not a first start. */
  | { kind: "incomplete"; missing: string[] }
  /** Neither the environment nor the file names an app: the first start. */
  | { kind: "none" };

export async function lookUpAppCredentials(env: Env): Promise<CredentialsLookup> {
  const named = [env.APP_ID, env.PRIVATE_KEY ?? env.PRIVATE_KEY_PATH, env.WEBHOOK_SECRET];
  if (named.some((v) => v !== undefined)) {
    const missing = [
      env.APP_ID ? null : "APP_ID",
      env.PRIVATE_KEY || env.PRIVATE_KEY_PATH ? null : "PRIVATE_KEY (or PRIVATE_KEY_PATH)",
      env.WEBHOOK_SECRET ? null : "WEBHOOK_SECRET",
    ].filter((m): m is string => m !== null);
    if (missing.length > 0 || !env.APP_ID || !env.WEBHOOK_SECRET) return { kind: "incomplete", missing };
    const privateKey = env.PRIVATE_KEY ?? (await readPrivateKey(env.PRIVATE_KEY_PATH ?? ""));
    // The saved OAuth client belongs to the saved app: used only when that is the app named here
    // (and a file that cannot be used is no obstacle: the environment names the app).
    const saved = env.GITHUB_CLIENT_ID && env.GITHUB_CLIENT_SECRET ? null : await readCredentialsFile(env.BOSUN_CREDENTIALS_FILE).catch(() => null);
    const client = saved?.APP_ID === env.APP_ID ? saved : null;
    return {
      kind: "ready",
      app: {
        appId: env.APP_ID, privateKey, webhookSecret: env.WEBHOOK_SECRET, source: "environment",
        env: { ...env, GITHUB_CLIENT_ID: env.GITHUB_CLIENT_ID ?? client?.GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET: env.GITHUB_CLIENT_SECRET ?? client?.GITHUB_CLIENT_SECRET },
      },
    };
  }
  const saved = await readCredentialsFile(env.BOSUN_CREDENTIALS_FILE);
  if (!saved) return { kind: "none" };
  return {
    kind: "ready",
    app: {
      appId: saved.APP_ID, privateKey: saved.PRIVATE_KEY, webhookSecret: saved.WEBHOOK_SECRET, source: "file",
      env: { ...env, GITHUB_CLIENT_ID: env.GITHUB_CLIENT_ID ?? saved.GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET: env.GITHUB_CLIENT_SECRET ?? saved.GITHUB_CLIENT_SECRET },
    },
  };
}

async function readPrivateKey(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new Error(`[bosun/config] cannot read the GitHub App's private key at PRIVATE_KEY_PATH=${path}: ${(e as Error).message}`, { cause: e });
  }
}
