// A Bosun world whose repository uses a model agent (builtin, codex, claude) against the scripted
// model server: the org's policy names the model, pins its host to loopback, lets only the agent
// phase reach it and gives that phase the key as a secret.
import type { TestContext } from "node:test";
import { ScriptedModelServer, type ScriptedTurn } from "../model-server/server.ts";
import { startBosunWorld, type BosunWorld } from "./bosun-world.ts";
import { seedDemoRepo } from "./seed.ts";

export const modelHost = "models.bosun.test";

/** The org's `.github/bosun.yml` for a scripted model on loopback `port`. */
export function modelOrgPolicy(port: number | string): string {
  return [
    "model:",
    `  base_url: http://${modelHost}:${port}/v1`,
    "  name: scripted-coder",
    "  api_key_secret: MODEL_KEY",
    "sandbox:",
    "  phases:",
    "    agent:",
    "      network: allowlist",
    `      hosts: ["${modelHost}:${port}"]`,
    `      addresses: { ${modelHost}: 127.0.0.1 }`,
    "      secrets: [MODEL_KEY]",
    "",
  ].join("\n");
}

export async function startModelAgentWorld(t: TestContext, o: { agent: "builtin" | "codex" | "claude"; script: ScriptedTurn[]; repo: string; key: string; repoConfig?: string }): Promise<{ w: BosunWorld; model: ScriptedModelServer }> {
  const model = await ScriptedModelServer.start({ script: o.script, apiKey: o.key });
  t.after(() => model.close());
  process.env["BOSUN_SECRET_MODEL_KEY"] = o.key;
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, o.repo, { protect: true, files: { ".github/bosun.yml": o.repoConfig ?? `agent:\n  use: ${o.agent}\ntest:\n  command: npm test\n` } });
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": modelOrgPolicy(new URL(model.url).port) } });
  return { w, model };
}
