// A workspace's setup: restored from the repository's setup cache when the cache's inputs are the
// same (src/setup-cache/), else run; and saved for later runs when it ran on the default branch's
// commit before any agent code did. Safety, in order of what could go wrong:
// - only a setup on the base commit of a first run is saved (a follow-up's base is the previous
//   agent's branch, and the tests' setup runs the agent's commit): no agent can poison a cache;
// - a key covers the image id, the command and every lockfile/manifest, so an agent that changes
//   a lockfile gets a fresh setup for its tests;
// - a cache made by a setup that had secrets is restored only where those secrets would be given;
// - restoring never overwrites a file the commit has (`--skip-old-files`): the agent's committed
//   file wins over a cached one of the same path.
import { envPrefix } from "../config/devcontainer.ts";
import { agentCodeSecrets } from "../policy/effective-policy.ts";
import { cacheKey, changedKeyFiles, keyFilesAt, type CacheKey } from "../setup-cache/cache-key.ts";
import { SetupCacheStore, type Scope, type SetupCache } from "../setup-cache/cache-store.ts";
import { evictOverLimit } from "../setup-cache/eviction.ts";
import { lastLines, phasePolicy, runSetup, type SetupResult } from "./run-phase.ts";
import type { RunContext } from "./run-context.ts";

/** Where the cache volume is mounted in Bosun's helper containers: a folder the image gives the sandbox user. */
const cacheMount = "/bosun";
const archive = `${cacheMount}/setup.tar`;
/**
 * What setup left that git does not track (untracked and ignored, folders whole), in one archive.
 * Run in Bosun's own image with the workspace read-only; prints the archive's size last.
 */
const saveScript = [
  "set -e",
  "cd /workspace",
  `git ls-files --others --directory -z > ${cacheMount}/paths`,
  `tar --null -T ${cacheMount}/paths -cf ${archive}`,
  `rm ${cacheMount}/paths`,
  `stat -c %s ${archive}`,
].join("\n");

export interface WorkspaceSetup extends SetupResult { cached: boolean; seconds: number }

export interface SetUpOptions {
  volume: string;
  command: string;
  /** The host checkout, at `commit`, for the key files. */
  checkout: string;
  commit: string;
  /** Before the tests (on the agent's commit) rather than for the agent (on the base commit). */
  forTests?: boolean;
  tailLines?: number;
  /** Puts the commit's files back in `volume` as they were, after a restore that failed partway. */
  reseed: () => Promise<void>;
}

export async function setUpWorkspace(ctx: RunContext, o: SetUpOptions): Promise<WorkspaceSetup> {
  const started = Date.now();
  const seconds = (): number => Math.round((Date.now() - started) / 100) / 10;
  const cache = await usableCache(ctx, o);
  if (cache?.hit) {
    if (await restore(ctx, o, cache.hit, cache.key)) return { ok: true, exitCode: 0, timedOut: false, tail: "", why: "", cached: true, seconds: seconds() };
    await o.reseed();
  }
  const setup = await runSetup(ctx, { volume: o.volume, command: o.command, ...(o.forTests ? { forTests: { commit: o.commit } } : {}), ...(o.tailLines ? { tailLines: o.tailLines } : {}) });
  const ran = seconds();
  if (setup.ok && cache && mayBeSaved(ctx, o)) {
    // The run goes on without a cache: the next one saves it.
    await save(ctx, o, cache.key).catch((e: unknown) => ctx.transcript.append("command", { phase: "setup", cache: "not saved", key: cache.key.key, reason: ctx.redactor.text((e as Error).message) }));
  }
  return { ...setup, cached: false, seconds: ran };
}

function scopeOf(ctx: RunContext): Scope {
  const { run } = ctx;
  return { installationId: run.installationId, owner: run.owner, repoId: run.repoId, repository: ctx.repoFullName };
}

const purposeOf = (o: SetUpOptions): Record<string, string> => (o.forTests ? { purpose: "tests" } : {});

/** Only a first run's setup on its base commit, before any agent code ran. */
function mayBeSaved(ctx: RunContext, o: SetUpOptions): boolean {
  return !o.forTests && ctx.run.facts.iteration === undefined && o.commit === ctx.run.baseSha;
}

/** The secrets this setup is given (the cache's setup must have had no others). */
function secretsGiven(ctx: RunContext, o: SetUpOptions): string[] {
  return agentCodeSecrets("setup", phasePolicy(ctx, "setup"), { followUp: ctx.run.facts.iteration !== undefined, modelKey: ctx.policy.rules.model.api_key_secret, testSetup: o.forTests === true }).given;
}

/** The key for this setup, and the repository's cache for it when there is one it may use; null when caching is off. */
async function usableCache(ctx: RunContext, o: SetUpOptions): Promise<{ key: CacheKey; hit: SetupCache | null } | null> {
  const config = ctx.run.facts.config;
  const rules = ctx.policy.rules.setup_cache;
  if (!rules.enabled || config?.setup.cache.enabled === false) {
    const why = rules.enabled ? "the repository's `setup.cache.enabled` is off" : "the org's `setup_cache.enabled` is off";
    await ctx.transcript.append("command", { phase: "setup", ...purposeOf(o), cache: "off", reason: why });
    return null;
  }
  const imageId = await ctx.deps.sandbox.imageId(ctx.image);
  if (!imageId) return null;
  const files = await keyFilesAt(o.checkout, o.commit, config?.setup.cache.key_files ?? []);
  const key = cacheKey({ repoId: ctx.run.repoId, imageId, command: `${envPrefix(ctx.run.facts.devcontainer?.env)}${o.command}`, files });
  const store = new SetupCacheStore(ctx.deps.pool);
  const hit = await store.take(scopeOf(ctx), key.key);
  if (!hit) {
    const latest = await store.latest(scopeOf(ctx));
    const changed = latest ? changedKeyFiles(latest.inputs, key.inputs) : [];
    const reason = !latest ? "this repository has no setup cache yet"
      : latest.inputs.imageId !== key.inputs.imageId ? "the image changed since the last cache"
      : latest.inputs.command !== key.inputs.command ? "the setup command changed since the last cache"
      : `these files differ from the last cache's: ${changed.join(", ")}`;
    await ctx.transcript.append("command", { phase: "setup", ...purposeOf(o), cache: "none", key: key.key, reason, key_files: files.map(([p]) => p) });
    return { key, hit: null };
  }
  const given = secretsGiven(ctx, o);
  const extra = hit.secrets.filter((s) => !given.includes(s));
  if (extra.length) {
    await ctx.transcript.append("command", { phase: "setup", ...purposeOf(o), cache: "not used", key: key.key, reason: `the cache was made by a setup given ${extra.join(", ")}, which this setup may not have` });
    return { key, hit: null };
  }
  return { key, hit };
}

async function restore(ctx: RunContext, o: SetUpOptions, hit: SetupCache, key: CacheKey): Promise<boolean> {
  const { deps } = ctx;
  const outcome = await helper(ctx, {
    // Files the commit has win: a cached file never replaces one the agent committed.
    command: `test -f ${archive} && tar -xf ${archive} -C /workspace --skip-old-files`,
    volumes: { [o.volume]: "/workspace", [hit.volume]: `${cacheMount}:ro` },
  });
  const saved = { key: key.key, saved_by_run: hit.savedByRun, saved_at: hit.createdAt.toISOString(), bytes: hit.bytes };
  if (!outcome.ok) {
    await ctx.transcript.append("command", { phase: "setup", ...purposeOf(o), cache: "restore failed", ...saved, reason: `restoring the cache ${outcome.why}; setup runs instead` });
    // A cache that cannot be restored is not offered again.
    await new SetupCacheStore(deps.pool).remove(hit.id);
    await deps.sandbox.removeCacheVolume(hit.volume).catch(() => undefined);
    return false;
  }
  await ctx.transcript.append("command", { phase: "setup", ...purposeOf(o), cache: "restored", command: o.command, ...saved, seconds: outcome.seconds, ...(o.forTests ? { commit: o.commit } : {}) });
  return true;
}

async function save(ctx: RunContext, o: SetUpOptions, key: CacheKey): Promise<void> {
  const { run, deps } = ctx;
  const rules = ctx.policy.rules.setup_cache;
  const limit = rules.max_total_mb_per_org * 1024 * 1024;
  const notSaved = (reason: string) => ctx.transcript.append("command", { phase: "setup", cache: "not saved", key: key.key, reason });
  if (limit === 0) return void (await notSaved("the org's `setup_cache.max_total_mb_per_org` is 0"));
  const id = SetupCacheStore.newId();
  const volume = `bosun-cache-${id}`;
  await deps.sandbox.createCacheVolume(volume, { "bosun.repo-id": String(run.repoId), "bosun.installation": String(run.installationId) });
  let kept = false;
  try {
    const outcome = await helper(ctx, { command: saveScript, volumes: { [o.volume]: "/workspace:ro", [volume]: cacheMount } });
    const bytes = Number(outcome.stdout.trim().split("\n").pop());
    if (!outcome.ok || !Number.isFinite(bytes)) return void (await notSaved(`packing the setup's files ${outcome.why}`));
    if (bytes > limit) return void (await notSaved(`it is ${mb(bytes)}, more than the org's \`setup_cache.max_total_mb_per_org\` (${rules.max_total_mb_per_org} MB)`));
    const store = new SetupCacheStore(deps.pool);
    const evicted = await evictOverLimit({ store, sandbox: deps.sandbox, installationId: run.installationId, limitBytes: limit - bytes });
    const expiresAt = new Date(Date.now() + rules.max_age_days * 86_400_000);
    kept = await store.record({
      id, installationId: run.installationId, owner: run.owner, repoId: run.repoId, repository: ctx.repoFullName, key: key.key, volume, bytes,
      inputs: key.inputs, secrets: secretsGiven(ctx, o), savedByRun: run.id, expiresAt, orgLimitBytes: limit,
    });
    if (!kept) return void (await notSaved("another run saved a cache for the same inputs first"));
    await ctx.transcript.append("command", {
      phase: "setup", cache: "saved", key: key.key, bytes, seconds: outcome.seconds, expires_at: expiresAt.toISOString(), key_files: key.inputs.files.map(([p]) => p),
      ...(evicted.length ? { evicted: evicted.map((c) => ({ repository: c.repository, bytes: c.bytes })) } : {}),
    });
  } finally {
    if (!kept) await deps.sandbox.removeCacheVolume(volume).catch(() => undefined);
  }
}

/**
 * One of Bosun's helper containers for the cache (its own image, no network, the run's runtime and
 * limits). Never throws: a cache that cannot be saved or restored must not fail the run.
 */
async function helper(ctx: RunContext, o: { command: string; volumes: Record<string, string> }): Promise<{ ok: boolean; why: string; stdout: string; seconds: number }> {
  const started = Date.now();
  const r = await helperContainer(ctx, o);
  return { ...r, seconds: Math.round((Date.now() - started) / 100) / 10 };
}

async function helperContainer(ctx: RunContext, o: { command: string; volumes: Record<string, string> }): Promise<{ ok: boolean; why: string; stdout: string }> {
  const { run, deps } = ctx;
  try {
    const outcome = await deps.sandbox.run({
      runId: run.id, role: "cache", attempt: run.epoch, image: deps.env.BOSUN_AGENT_IMAGE, ...ctx.sandboxSettings,
      command: o.command, volumes: o.volumes, timeoutMs: ctx.policy.limits.setup_minutes * 60_000, captureStdoutBytes: 64 * 1024,
    });
    if (outcome.timedOut) return { ok: false, why: `did not finish within ${ctx.policy.limits.setup_minutes} minutes`, stdout: "" };
    if (outcome.exitCode !== 0) return { ok: false, why: `failed: ${ctx.redactor.text(lastLines(outcome.outputTail, 5))}`, stdout: "" };
    return { ok: true, why: "", stdout: outcome.stdout ?? "" };
  } catch (e) {
    return { ok: false, why: `failed: ${ctx.redactor.text((e as Error).message)}`, stdout: "" };
  }
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
