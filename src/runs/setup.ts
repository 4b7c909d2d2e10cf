// A workspace's setup: restored from the repository's setup cache when the cache's inputs are the
// same (src/setup-cache/), else run; and saved for later runs when it ran on the default branch's
// commit before any agent code did. Safety, in order of what could go wrong:
// - only a setup on the base commit of a first run is saved (a follow-up's base is the previous
//   agent's branch, and the tests' setup runs the agent's commit): no agent can poison a cache;
// - a key covers the image id, the command and every lockfile/manifest, so an agent that changes
//   a lockfile gets a fresh setup for its tests;
// - a cache made by a setup that had secrets is restored only where those secrets would be given;
// - a restored cache is the read-only lower layer of an overlay (Docker's local driver): the
//   commit's files lie above it and win, and nothing written in the sandbox reaches the cache.
//   Where the Docker host cannot mount one, the cache's files are copied in without replacing any
//   of the commit's.
import { envPrefix } from "../config/devcontainer.ts";
import { agentCodeSecrets } from "../policy/effective-policy.ts";
import { cacheKey, changedKeyFiles, keyFilesAt, type CacheKey } from "../setup-cache/cache-key.ts";
import { SetupCacheStore, type Scope, type SetupCache } from "../setup-cache/cache-store.ts";
import { evictOverLimit } from "../setup-cache/eviction.ts";
import { isDockerConnectionError, type OverlayLower } from "../sandbox/sandbox.ts";
import { lastLines, phasePolicy, runSetup, type SetupResult } from "./run-phase.ts";
import type { RunContext } from "./run-context.ts";

/** Where the cache volume is mounted in Bosun's helper containers: a folder the image gives the sandbox user. */
const cacheMount = "/bosun";
/** The cache's files, unpacked, in its volume: the lower layer of the volumes restored from it. */
const treeDir = "tree";
const archive = `${cacheMount}/setup.tar`;
/** The copy's exit status when the cache's files are gone (the cache is dropped then, and only then). */
const cacheMissing = 3;
/**
 * What setup left that git does not track (untracked and ignored, folders whole), packed into an
 * archive of at most `maxBytes` (one byte more says it did not fit), then unpacked as the cache's
 * tree. Run in Bosun's own image with the workspace read-only; git ignores the hooks and monitors
 * setup's scripts may have configured. Prints tar's status, then the archive's size.
 */
const saveScript = (maxBytes: number): string => [
  "set -e",
  "cd /workspace",
  `${gitSafe} ls-files --others --directory -z > ${cacheMount}/paths`,
  `{ tar --null -T ${cacheMount}/paths -cf - && echo 0 > ${cacheMount}/status || echo $? > ${cacheMount}/status; } | head -c ${maxBytes + 1} > ${archive}`,
  `rm ${cacheMount}/paths`,
  `size=$(wc -c < ${archive})`,
  `if [ "$(cat ${cacheMount}/status)" = 0 ] && [ "$size" -le ${maxBytes} ]; then mkdir ${cacheMount}/${treeDir} && tar -xf ${archive} -C ${cacheMount}/${treeDir}; fi`,
  `rm ${archive}`,
  `cat ${cacheMount}/status`,
  // stat(1) fails under Debian's gVisor (statx); wc reads the size as well.
  `echo "$size"`,
].join("\n");
/**
 * Copies the cache's files into the workspace where no overlay can be mounted. Files the commit
 * has win: a cached file never replaces one the agent committed (`cp -n`).
 */
const copyScript = `[ -d ${cacheMount}/${treeDir} ] || { echo "the cache's files are missing" >&2; exit ${cacheMissing}; }\ncp -an ${cacheMount}/${treeDir}/. /workspace/`;

export interface WorkspaceSetup extends SetupResult {
  cached: boolean;
  seconds: number;
  /** The sandbox's volume, set up. */
  volume: string;
  /** What setup left in the agent's workspace that git does not track (folders whole): not the agent's change. */
  leftovers: string[];
}

/** Setup's leftovers are listed up to this many: past it, the repository's .gitignore alone decides. */
export const maxLeftovers = 2000;
const gitSafe = "git -c core.hooksPath=/dev/null -c core.fsmonitor=false -c core.excludesFile=/dev/null";

export interface SetUpOptions {
  command: string;
  /** The host checkout, at `commit`, for the key files. */
  checkout: string;
  commit: string;
  /** Before the tests (on the agent's commit) rather than for the agent (on the base commit). */
  forTests?: boolean;
  tailLines?: number;
  /** (Re)makes the sandbox's volume with the commit's files, over a cache's files when given; returns its name. */
  fresh: (over?: OverlayLower) => Promise<string>;
}

/** Makes the sandbox's volume, set up: restored from the cache, or by running the setup command there. */
export async function setUpWorkspace(ctx: RunContext, o: SetUpOptions): Promise<WorkspaceSetup> {
  const started = Date.now();
  const seconds = (): number => Math.round((Date.now() - started) / 100) / 10;
  const cache = await usableCache(ctx, o);
  if (cache?.hit) {
    const volume = await restore(ctx, o, cache.hit, cache.key);
    if (volume) return { ok: true, exitCode: 0, timedOut: false, tail: "", why: "", cached: true, seconds: seconds(), volume, leftovers: await leftoversOf(ctx, o, volume) };
  }
  const volume = await o.fresh();
  const setup = await runSetup(ctx, { volume, command: o.command, ...(o.forTests ? { forTests: { commit: o.commit } } : {}), ...(o.tailLines ? { tailLines: o.tailLines } : {}) });
  const ran = seconds();
  if (setup.ok && cache && mayBeSaved(ctx, o)) {
    // The run goes on without a cache: the next one saves it.
    await save(ctx, volume, cache.key).catch((e: unknown) => ctx.transcript.append("command", { phase: "setup", cache: "not saved", key: cache.key.key, reason: ctx.redactor.text((e as Error).message) }));
  }
  return { ...setup, cached: false, seconds: ran, volume, leftovers: setup.ok ? await leftoversOf(ctx, o, volume) : [] };
}

/** The paths setup left untracked in the agent's workspace (none listed for the tests' sandbox, whose change is made already). */
async function leftoversOf(ctx: RunContext, o: SetUpOptions, volume: string): Promise<string[]> {
  if (o.forTests) return [];
  const listed = await helper(ctx, { command: `cd /workspace && ${gitSafe} ls-files --others --directory -z | head -z -n ${maxLeftovers}`, volumes: { [volume]: "/workspace:ro" }, captureBytes: 1024 * 1024 });
  if (!listed.ok) {
    await ctx.transcript.append("error", { phase: "setup", message: `Bosun could not list what setup left in the workspace (${listed.why}); the repository's .gitignore alone keeps it out of the change` });
    return [];
  }
  return listed.stdout.split("\0").filter(Boolean);
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
function secretsGiven(ctx: RunContext, o: Pick<SetUpOptions, "forTests">): string[] {
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
  if (!imageId) {
    await ctx.transcript.append("command", { phase: "setup", ...purposeOf(o), cache: "off", reason: `the image \`${ctx.image}\` has no id on the Docker host` });
    return null;
  }
  const files = await keyFilesAt(o.checkout, o.commit, config?.setup.cache.key_files ?? [], o.command);
  const setupPolicy = phasePolicy(ctx, "setup");
  const ca = ctx.deps.sandboxCa;
  const key = cacheKey({
    repoId: ctx.run.repoId, imageId, command: `${envPrefix(ctx.run.facts.devcontainer?.env)}${o.command}`, files,
    // What setup could reach changes what it installs: its network, and the CAs it trusts.
    environment: { network: setupPolicy.network, hosts: setupPolicy.hosts, presets: setupPolicy.presets, addresses: setupPolicy.addresses, ca: ca ? `${ca.source} (${ca.certificates})` : null },
  });
  const store = new SetupCacheStore(ctx.deps.pool);
  const hit = await store.find(scopeOf(ctx), key.key);
  if (!hit) {
    const latest = await store.latest(scopeOf(ctx));
    const changed = latest ? changedKeyFiles(latest.inputs, key.inputs) : [];
    const reason = !latest ? "this repository has no setup cache yet"
      : latest.inputs.imageId !== key.inputs.imageId ? "the image changed since the last cache"
      : latest.inputs.command !== key.inputs.command ? "the setup command changed since the last cache"
      : changed.length ? `these files differ from the last cache's: ${changed.join(", ")}`
      : "the setup phase's network or certificate authorities changed since the last cache";
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

/**
 * The sandbox's volume made over the cache's files (or, where the Docker host cannot mount an
 * overlay, with them copied in); null when neither worked and setup must run instead.
 */
async function restore(ctx: RunContext, o: SetUpOptions, hit: SetupCache, key: CacheKey): Promise<string | null> {
  const { deps } = ctx;
  const store = new SetupCacheStore(deps.pool);
  // Marked before it is used: eviction and expiry leave caches of live runs alone.
  await ctx.update({ facts: { setupCachesInUse: [...new Set([...(ctx.run.facts.setupCachesInUse ?? []), hit.id])] } });
  const started = Date.now();
  const saved = { key: key.key, saved_by_run: hit.savedByRun, saved_at: hit.createdAt.toISOString(), bytes: hit.bytes };
  let volume: string;
  let how: "overlay" | "copy" = "overlay";
  let overlayRefused: string | null = null;
  try {
    volume = await o.fresh({ volume: hit.volume, subdir: treeDir, helperImage: deps.env.BOSUN_AGENT_IMAGE });
    // Mounted once here, so a host that cannot is found now rather than in the phase.
    const mounted = await helper(ctx, { command: "test -d /workspace/.git", volumes: { [volume]: "/workspace:ro" } });
    if (!mounted.ok) throw new Error(`the overlay did not mount: ${mounted.why}`);
  } catch (e) {
    if (isDockerConnectionError(e)) throw e;
    overlayRefused = ctx.redactor.text((e as Error).message);
    how = "copy";
    volume = await o.fresh();
    const copied = await helper(ctx, { command: copyScript, volumes: { [volume]: "/workspace", [hit.volume]: `${cacheMount}:ro` } });
    if (!copied.ok) {
      // Only a cache whose files are gone is dropped: a copy that fails in a tree the agent shaped
      // (a file where the cache has a folder) says nothing about the cache.
      const gone = copied.exitCode === cacheMissing;
      await ctx.transcript.append("command", { phase: "setup", ...purposeOf(o), cache: "restore failed", ...saved, reason: `restoring the cache ${copied.why} (no overlay: ${overlayRefused}); setup runs instead${gone ? ", and the cache is dropped" : ""}` });
      if (gone) {
        await store.remove(hit.id);
        await deps.sandbox.removeCacheVolume(hit.volume);
      }
      return null;
    }
  }
  await store.touch(hit.id);
  await ctx.transcript.append("command", {
    phase: "setup", ...purposeOf(o), cache: "restored", how, command: o.command, ...saved, seconds: Math.round((Date.now() - started) / 100) / 10,
    ...(overlayRefused ? { overlay_refused: overlayRefused } : {}), ...(o.forTests ? { commit: o.commit } : {}),
  });
  return volume;
}

async function save(ctx: RunContext, workspace: string, key: CacheKey): Promise<void> {
  const { run, deps } = ctx;
  const rules = ctx.policy.rules.setup_cache;
  const ceiling = deps.env.BOSUN_SETUP_CACHE_MAX_MB_PER_ORG;
  const limitMb = Math.min(rules.max_total_mb_per_org, ceiling);
  const limitRule = limitMb < rules.max_total_mb_per_org ? `the operator's BOSUN_SETUP_CACHE_MAX_MB_PER_ORG (${ceiling} MB)` : `the org's \`setup_cache.max_total_mb_per_org\` (${limitMb} MB)`;
  const limit = limitMb * 1024 * 1024;
  const notSaved = (reason: string) => ctx.transcript.append("command", { phase: "setup", cache: "not saved", key: key.key, reason });
  if (limit === 0) return void (await notSaved(`${limitRule} is 0`));
  const id = SetupCacheStore.newId();
  const volume = `bosun-cache-${id}`;
  await deps.sandbox.createCacheVolume(volume, { "bosun.repo-id": String(run.repoId), "bosun.installation": String(run.installationId) });
  let kept = false;
  try {
    const outcome = await helper(ctx, { command: saveScript(limit), volumes: { [workspace]: "/workspace:ro", [volume]: cacheMount } });
    const [tarStatus, size] = outcome.stdout.trim().split("\n").slice(-2);
    if (!outcome.ok || !/^\d+$/.test(size ?? "")) return void (await notSaved(`packing the setup's files ${outcome.why || "printed no size"}`));
    if (tarStatus !== "0" && Number(size) <= limit) return void (await notSaved(`tar could not pack the setup's files (exit ${tarStatus ?? "?"})`));
    const bytes = Number(size);
    if (bytes > limit) return void (await notSaved(`it is more than ${limitRule}`));
    const store = new SetupCacheStore(deps.pool);
    const evicted = await evictOverLimit({ store, sandbox: deps.sandbox, installationId: run.installationId, limitBytes: limit - bytes });
    if (evicted.length) ctx.log.info({ evicted: evicted.map((c) => ({ repository: c.repository, bytes: c.bytes, key: c.key })) }, "removed the org's least recently used setup caches to make room");
    const expiresAt = new Date(Date.now() + rules.max_age_days * 86_400_000);
    const recorded = await store.record({
      id, installationId: run.installationId, owner: run.owner, repoId: run.repoId, repository: ctx.repoFullName, key: key.key, volume, bytes,
      inputs: key.inputs, secrets: secretsGiven(ctx, {}), savedByRun: run.id, expiresAt, orgLimitBytes: limit,
    }, { runId: run.id, epoch: run.epoch });
    for (const old of recorded.replaced) await deps.sandbox.removeCacheVolume(old);
    if (recorded.result !== "saved") {
      return void (await notSaved(recorded.result === "not owner" ? "this attempt no longer owns the run, so what it packed may not be its own setup's" : "another run saved a cache for the same inputs first"));
    }
    kept = true;
    // Other repositories' names stay out of this one's transcript (the log has them).
    await ctx.transcript.append("command", {
      phase: "setup", cache: "saved", key: key.key, bytes, seconds: outcome.seconds, expires_at: expiresAt.toISOString(), key_files: key.inputs.files.map(([p]) => p),
      ...(evicted.length ? { evicted: evicted.length } : {}),
    });
  } finally {
    if (!kept) await deps.sandbox.removeCacheVolume(volume).catch(() => undefined);
  }
}

/**
 * One of Bosun's helper containers for the cache (its own image, no network, the run's runtime and
 * limits). A cache that cannot be saved or restored must not fail the run, so only a lost Docker
 * engine throws (the run's outage handling waits for it).
 */
async function helper(ctx: RunContext, o: { command: string; volumes: Record<string, string>; captureBytes?: number }): Promise<{ ok: boolean; why: string; stdout: string; seconds: number; exitCode: number | null }> {
  const { run, deps } = ctx;
  const started = Date.now();
  const seconds = (): number => Math.round((Date.now() - started) / 100) / 10;
  try {
    const outcome = await deps.sandbox.run({
      runId: run.id, role: "cache", attempt: run.epoch, image: deps.env.BOSUN_AGENT_IMAGE, ...ctx.sandboxSettings,
      command: o.command, volumes: o.volumes, timeoutMs: ctx.policy.limits.setup_minutes * 60_000, captureStdoutBytes: o.captureBytes ?? 64 * 1024,
    });
    const r = { stdout: outcome.stdout ?? "", seconds: seconds(), exitCode: outcome.exitCode };
    if (outcome.timedOut) return { ...r, ok: false, why: `did not finish within ${ctx.policy.limits.setup_minutes} minutes` };
    if (outcome.exitCode !== 0) return { ...r, ok: false, why: `failed: ${ctx.redactor.text(lastLines(outcome.outputTail, 5)) || `exit code ${outcome.exitCode}`}` };
    return { ...r, ok: true, why: "" };
  } catch (e) {
    if (isDockerConnectionError(e)) throw e;
    return { ok: false, why: `failed: ${ctx.redactor.text((e as Error).message)}`, stdout: "", seconds: seconds(), exitCode: null };
  }
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
