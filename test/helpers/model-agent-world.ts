// A Bosun world whose repository uses a model agent (builtin, codex, claude) against the scripted
// model server: the org's policy names the model, pins its host to loopback, lets only the agent
// phase reach it and gives that phase the key as a secret.
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { readTranscript, type TranscriptEvent } from "../../src/audit/transcript.ts";
import type { Run } from "../../src/runs/run.ts";
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

/**
 * What every model agent's happy path must show, as in the core loop: the pull request titled and
 * described from the agent's answer, the diff that fixes the bug, the tests passing. Returns the events.
 */
export async function assertDemoBugFixed(w: BosunWorld, run: Run, repo: string): Promise<TranscriptEvent[]> {
  const pr = [...w.gh.repo(`acme/${repo}`).issues.values()].find((i) => i.pull);
  assert.equal(pr?.title, "Fix add() to add");
  assert.match(pr?.body ?? "", /add\(\) subtracted; it adds now/);
  const events = await readTranscript(w.bosun.pool, run.id);
  const diff = events.find((e) => e.kind === "file_diff");
  assert.match(String(diff?.payload["diff"]), /- {2}return a - b;\n\+ {2}return a \+ b;/);
  assert.deepEqual(events.filter((e) => e.kind === "test").map((e) => e.payload["exit_code"]), [0]);
  return events;
}

/** The agent phase reached only the model's host (every request allowed), and the key is redacted everywhere. */
export function assertOnlyTheModelReached(events: TranscriptEvent[], key: string): void {
  const reached = events.filter((e) => e.kind === "network" && e.payload["phase"] === "agent").map((e) => [e.payload["host"], e.payload["allowed"]]);
  assert.ok(reached.length >= 4 && reached.every(([h, ok]) => h === modelHost && ok === true), `only the model's host, allowed: ${JSON.stringify(reached)}`);
  const text = JSON.stringify(events.map((e) => e.payload));
  assert.ok(!text.includes(key), "the model's key is redacted everywhere");
}
