// Vetting a destination: in the allowlist for its port, resolved (pins, IP literals, or the name
// cache), and every address public or listed explicitly. The proxy then connects to the vetted
// addresses, never to the name again.
import { lookup } from "node:dns/promises";
import net from "node:net";
import { ipKey, isInternalAddress, normalizeHost, stripBrackets } from "./addresses.ts";
import { compileRule, matchCompiled, type EgressRule } from "./allowlist.ts";
import { createNameCache, type NameCacheOptions, type Resolve } from "./names.ts";

export type Vetted =
  | { ok: true; reason: string; addresses: string[] }
  | { ok: false; allowed: boolean; status: 403 | 502; reason: string };

/** Whether a destination may be reached, and at which addresses. */
export type Vet = (rawHost: string, port: number) => Promise<Vetted>;

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

/** Throws on an invalid rule (an unparseable host entry, a pin that is not an IP address). */
export function createVetter(o: { rule: EgressRule; resolve?: Resolve; timeoutMs: number; nameCache?: Pick<NameCacheOptions, "ttlMs" | "negativeTtlMs" | "staleMs" | "now"> }): Vet {
  const compiled = compileRule(o.rule);
  if (compiled.invalid.length) throw new Error(`[bosun/egress] invalid host entry "${compiled.invalid[0]}"`);
  const pins = new Map<string, string>();
  for (const [name, address] of Object.entries(o.rule.addresses ?? {})) {
    const ip = stripBrackets(address.trim());
    if (!net.isIP(ip)) throw new Error(`[bosun/egress] address for "${name}" is not an IP address: "${address}"`);
    pins.set(normalizeHost(name), ip);
  }
  // An IP literal in hosts makes that address explicit for the ports it is listed with.
  const listedLiterals = new Map<string, number[]>();
  for (const e of compiled.entries) if (e.ip) listedLiterals.set(e.pattern, [...(listedLiterals.get(e.pattern) ?? []), ...e.ports]);
  const names = createNameCache({ ...o.nameCache, resolve: o.resolve ?? defaultResolve, timeoutMs: o.timeoutMs });

  return async (rawHost: string, port: number): Promise<Vetted> => {
    const host = normalizeHost(rawHost);
    const decision = matchCompiled(compiled, host, port);
    if (!decision.allowed) return { ok: false, allowed: false, status: 403, reason: decision.reason };
    let addresses: string[];
    let reason = decision.reason;
    const pinned = pins.get(host);
    if (net.isIP(host)) addresses = [host];
    else if (pinned) addresses = [pinned];
    else {
      try {
        const answer = await names.lookup(host);
        addresses = answer.addresses.map((a) => stripBrackets(a.trim()));
        if (answer.source === "stale") reason += `; resolving failed (${answer.error ?? "?"}), so the last answer (${Math.round(answer.ageMs / 1000)} s old) was used`;
      } catch (err) {
        return { ok: false, allowed: true, status: 502, reason: `${decision.reason}; could not resolve "${host}": ${errorText(err)}` };
      }
    }
    if (addresses.length === 0) return { ok: false, allowed: true, status: 502, reason: `${decision.reason}; "${host}" resolves to no address` };
    for (const a of addresses) {
      const explicit = (pinned !== undefined && ipKey(pinned) === ipKey(a)) || (listedLiterals.get(ipKey(a))?.includes(port) ?? false);
      if (isInternalAddress(a) && !explicit) {
        return {
          ok: false,
          allowed: false,
          status: 403,
          reason: `"${host}" resolves to ${a}, inside Bosun's own network; list the address explicitly to allow it`,
        };
      }
    }
    return { ok: true, reason, addresses };
  };
}
