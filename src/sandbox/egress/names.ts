// Name lookups for the egress proxy: one lookup in flight per host, answers kept for a short time.
//
// A package install opens hundreds of connections to one or two hosts within seconds. Looking the
// name up once per connection queues that many getaddrinfo calls on libuv's four threads (on a host
// with a slow resolver, 60 at once took 5–10 s each while one took 1 ms), and connections failed
// on the lookup's timeout. Here concurrent connections to a host share one lookup, and its answer
// serves the connections of the next `ttlMs`.
//
// The system's lookup (getaddrinfo: /etc/hosts, nsswitch, the resolver) reports no TTL, so the TTL
// is ours: 30 s by default, below the TTLs registries' CDNs publish (minutes), so an answer is never
// held much past what the name's owner allows, while a burst of connections costs one lookup.
// dns.resolve4/6 would give the record's TTL but bypass /etc/hosts ("localhost" does not resolve
// through them at all), which the proxy's loopback refusals and operators' host files rely on.
//
// A failed lookup is kept for `negativeTtlMs` only (default 2 s), so a resolver that failed once is
// asked again soon, and a broken one is not asked once per connection. When a lookup for an expired
// answer fails or times out, the last good answer (up to `staleMs` old, default 10 min) is used
// instead, as RFC 8767 allows ("serve stale"): a slow resolver does not stop an install. Every
// answer, cached or stale, is vetted by the caller like a fresh one.

export type Resolve = (host: string) => Promise<string[]>;

export interface NameCacheOptions {
  resolve: Resolve;
  /** Bound on one lookup; a lookup that takes longer counts as failed (it may still fill the cache when it ends). */
  timeoutMs: number;
  /** How long a good answer is used without looking the name up again; default 30 s. */
  ttlMs?: number;
  /** How long a failed lookup is answered from memory before the name is looked up again; default 2 s. */
  negativeTtlMs?: number;
  /** How old the last good answer may be to stand in for a lookup that failed; default 10 min, 0 for never. */
  staleMs?: number;
  /** Most names kept; the oldest go first. Default 1,024. */
  maxEntries?: number;
  now?: () => number;
}

export interface Answer {
  addresses: string[];
  /** "lookup": looked up for this request (alone or shared); "cached": a fresh answer from memory; "stale": the last good answer, because the lookup failed. */
  source: "lookup" | "cached" | "stale";
  /** For "stale": why the lookup failed. */
  error?: string;
  /** Age of the answer in ms. */
  ageMs: number;
}

interface Entry {
  addresses?: string[];
  okAt?: number;
  error?: Error;
  failedAt?: number;
  inflight?: Promise<string[]>;
}

export interface NameCache {
  lookup(host: string): Promise<Answer>;
  /** Lookups started (for the bench and tests). */
  readonly lookups: number;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export function createNameCache(o: NameCacheOptions): NameCache {
  const ttlMs = o.ttlMs ?? 30_000;
  const negativeTtlMs = o.negativeTtlMs ?? 2_000;
  const staleMs = o.staleMs ?? 600_000;
  const maxEntries = o.maxEntries ?? 1024;
  const now = o.now ?? Date.now;
  const entries = new Map<string, Entry>();
  let lookups = 0;

  const entryFor = (host: string): Entry => {
    let e = entries.get(host);
    if (e) {
      // Most recently used last, so the oldest is first to go.
      entries.delete(host);
      entries.set(host, e);
      return e;
    }
    e = {};
    entries.set(host, e);
    while (entries.size > maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest === undefined) break;
      entries.delete(oldest);
    }
    return e;
  };

  /** The one lookup in flight for `host`, started if there is none; it settles within the timeout. */
  const shared = (host: string, e: Entry): Promise<string[]> => {
    if (e.inflight) return e.inflight;
    lookups++;
    const started = o.resolve(host).then(
      (addresses) => {
        if (addresses.length > 0) {
          e.addresses = addresses;
          e.okAt = now();
          e.error = undefined;
          e.failedAt = undefined;
        }
        return addresses;
      },
      (err: unknown) => {
        throw asError(err);
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const bounded = Promise.race([
      started,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`resolving "${host}" timed out after ${o.timeoutMs} ms`)), o.timeoutMs);
      }),
    ]).then(
      (addresses) => {
        if (addresses.length === 0) throw new Error(`"${host}" resolves to no address`);
        return addresses;
      },
      (err: unknown) => {
        const error = asError(err);
        e.error = error;
        e.failedAt = now();
        throw error;
      },
    );
    // A late answer still lands in the entry (above); the slot frees when the bounded wait ends.
    started.catch(() => undefined);
    const settled = bounded.finally(() => {
      clearTimeout(timer);
      if (e.inflight === settled) e.inflight = undefined;
    });
    e.inflight = settled;
    return settled;
  };

  return {
    get lookups() {
      return lookups;
    },
    async lookup(host: string): Promise<Answer> {
      const e = entryFor(host);
      const t = now();
      if (e.addresses && e.okAt !== undefined && t - e.okAt < ttlMs) return { addresses: e.addresses, source: "cached", ageMs: t - e.okAt };
      const stale = (err: Error): Answer => {
        const at = now();
        if (e.addresses && e.okAt !== undefined && staleMs > 0 && at - e.okAt < staleMs) {
          return { addresses: e.addresses, source: "stale", error: err.message, ageMs: at - e.okAt };
        }
        throw err;
      };
      if (e.error && e.failedAt !== undefined && t - e.failedAt < negativeTtlMs && !e.inflight) return stale(e.error);
      try {
        const addresses = await shared(host, e);
        return { addresses, source: "lookup", ageMs: 0 };
      } catch (err) {
        return stale(asError(err));
      }
    },
  };
}
