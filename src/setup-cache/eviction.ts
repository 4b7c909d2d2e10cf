// Setup caches expire and are bounded per org (the org's `setup_cache` policy): the least recently
// used go first. A save makes room at once; the worker's sweep removes what expired, what an org's
// newest limit no longer holds, and volumes no record names (a save that never finished).
import type { Logger } from "pino";
import type { Sandbox } from "../sandbox/sandbox.ts";
import type { SetupCache, SetupCacheStore } from "./cache-store.ts";

/**
 * A save in progress has its volume an hour at most before its record exists. A volume whose
 * record is gone but that a restore still uses is removed by a later sweep, once it is free.
 */
const unfinishedSaveMs = 60 * 60_000;

async function removeCache(o: { store: SetupCacheStore; sandbox: Sandbox }, c: SetupCache): Promise<void> {
  await o.store.remove(c.id);
  await o.sandbox.removeCacheVolume(c.volume);
}

/** Removes the installation's least recently used caches until they take `limitBytes` at most. */
export async function evictOverLimit(o: { store: SetupCacheStore; sandbox: Sandbox; installationId: number; limitBytes: number }): Promise<SetupCache[]> {
  const caches = await o.store.ofInstallation(o.installationId);
  const inUse = await o.store.inUse();
  let total = caches.reduce((n, c) => n + c.bytes, 0);
  const evicted: SetupCache[] = [];
  for (const c of caches) {
    if (total <= o.limitBytes) break;
    // A live run's volumes lie over it: it goes once the run ends (the limit is passed until then).
    if (inUse.has(c.id)) continue;
    await removeCache(o, c);
    total -= c.bytes;
    evicted.push(c);
  }
  return evicted;
}

export async function sweepSetupCaches(o: { store: SetupCacheStore; sandbox: Sandbox; log: Logger }): Promise<{ expired: number; overLimit: number; unfinished: number }> {
  const inUse = await o.store.inUse();
  const expired = (await o.store.expired()).filter((c) => !inUse.has(c.id));
  // One cache that cannot go now does not stop the rest.
  for (const c of expired) await removeCache(o, c).catch((e: unknown) => o.log.warn({ err: e, volume: c.volume }, "could not remove an expired setup cache"));
  let overLimit = 0;
  const newestLimit = new Map<number, SetupCache>();
  for (const c of await o.store.all()) {
    const seen = newestLimit.get(c.installationId);
    if (!seen || c.createdAt > seen.createdAt) newestLimit.set(c.installationId, c);
  }
  for (const [installationId, c] of newestLimit) {
    overLimit += (await evictOverLimit({ ...o, installationId, limitBytes: c.orgLimitBytes })).length;
  }
  const known = await o.store.volumes();
  let unfinished = 0;
  for (const v of await o.sandbox.cacheVolumes()) {
    if (known.has(v.name) || Date.now() - v.createdAt.getTime() < unfinishedSaveMs) continue;
    if (await o.sandbox.removeCacheVolume(v.name).catch(() => false)) unfinished++;
  }
  if (expired.length || overLimit || unfinished) o.log.info({ expired: expired.length, overLimit, unfinished }, "removed setup caches");
  return { expired: expired.length, overLimit, unfinished };
}
