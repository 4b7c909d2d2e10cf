// Bosun's egress proxy for one sandbox phase. Agent containers run with Docker's network `none`;
// in `allowlist` mode their only way out is this proxy's Unix socket, bind-mounted into the
// container behind a loopback forwarder (socat on 127.0.0.1:3128), used as an ordinary HTTP proxy.
//
// It speaks HTTP proxy protocol: `CONNECT host:port` tunnels and absolute-form plain HTTP requests.
// A destination is allowed when its name is listed (exactly, by wildcard, or through a registry
// preset) for that port, and every address it resolves to is either public or listed explicitly.
// The proxy connects to the address it vetted, never to the name again, so a second DNS answer
// cannot move the connection into Bosun's own network. Every request, allowed or refused, is one
// NetworkEvent for the transcript.
import { execFileSync } from "node:child_process";
import { lookup } from "node:dns/promises";
import { readdirSync, readFileSync } from "node:fs";
import { chmod, lstat, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { createNameCache, type NameCacheOptions } from "./egress/names.ts";

export interface EgressRule {
  /** Exact names ("registry.example.org") and wildcards ("*.pythonhosted.org", matches subdomains only). An entry may carry a port ("host:8443"); without one, ports 80 and 443 are allowed. */
  hosts: string[];
  /** Named presets of package registries, expanded to hosts: npm, pypi, crates, go, maven, rubygems, debian. */
  presets: string[];
  /** Static name → address pins that policy declares (like /etc/hosts). A pinned address is "listed explicitly", so it may be loopback/private. Also an IP literal listed in `hosts` is listed explicitly. */
  addresses?: Record<string, string>;
}

export interface NetworkEvent {
  host: string;
  port: number;
  method: string;
  allowed: boolean;
  reason: string;
  bytesUp: number;
  bytesDown: number;
  startedAt: string;
  durationMs: number;
  /** For plain HTTP only: the URL path (query stripped), so package downloads can be recognised. */
  path?: string;
  /** The status the proxy answered the client with (the target's status for forwarded requests). */
  status?: number;
}

export interface DependencyInstall {
  ecosystem: "npm" | "pypi" | "crates" | "go" | "maven" | "rubygems" | "debian";
  name: string;
  version: string | null;
  host: string;
  url: string;
}

export interface EgressProxy {
  socketPath: string;
  close(): Promise<void>;
  events(): NetworkEvent[];
}

export interface EgressProxyOptions {
  socketPath: string;
  rule: EgressRule;
  onEvent?: (e: NetworkEvent) => void;
  onDependency?: (d: DependencyInstall) => void;
  /** Name → addresses; default `dns.promises.lookup(host, { all: true })`. Called once per host at a time, its answers kept (see names.ts). */
  resolve?: (host: string) => Promise<string[]>;
  /** Bound on resolving a name and on each TCP connect to a target; default 10 s. */
  connectTimeoutMs?: number;
  /** How long answers and failures are kept: see egress/names.ts for the defaults and why. */
  nameCache?: Pick<NameCacheOptions, "ttlMs" | "negativeTtlMs" | "staleMs" | "now">;
}

// Registries that are the same everywhere. npm's and Debian's are read from this host's own
// configuration instead (see hostPresets): organisations commonly run mirrors of those, and the
// preset should mean "where this Bosun host's npm and apt already fetch from".
const PRESETS: Record<string, string[]> = {
  pypi: ["pypi.org", "files.pythonhosted.org"],
  crates: ["crates.io", "static.crates.io", "index.crates.io"],
  go: ["proxy.golang.org", "sum.golang.org"],
  maven: ["repo.maven.apache.org", "repo1.maven.org"],
  rubygems: ["rubygems.org", "index.rubygems.org"],
};

let npmConfigCache: string | null = null;
let aptHostsCache: string[] | null = null;

/**
 * The `npm` preset is the registry npm is configured with on this host (npm_config_registry or
 * `npm config get registry`); `debian` is the hosts of this host's apt sources.
 */
export function hostPresets(): Record<string, string[]> {
  const npm: string[] = [];
  try {
    npmConfigCache ??= execFileSync("npm", ["config", "get", "registry"], { encoding: "utf8", timeout: 10_000 }).trim();
    npm.push(new URL(process.env["npm_config_registry"] ?? npmConfigCache).hostname);
  } catch {
    // no npm on this host: the preset is empty
  }
  if (!aptHostsCache) {
    const debian = new Set<string>();
    for (const file of ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d").map((f) => `/etc/apt/sources.list.d/${f}`)]) {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue;
      }
      for (const m of text.matchAll(/(?:^deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?|^URIs:\s*)(https?:\/\/[^\s]+)/gm)) {
        try {
          if (m[1]) debian.add(new URL(m[1]).hostname);
        } catch {
          // not a URL
        }
      }
    }
    aptHostsCache = [...debian];
  }
  return { npm, debian: aptHostsCache };
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith(".list") || f.endsWith(".sources"));
  } catch {
    return [];
  }
}

const DEFAULT_PORTS = [80, 443];

export function expandPresets(presets: string[]): string[] {
  const out: string[] = [];
  for (const p of presets) {
    const hosts = Object.hasOwn(PRESETS, p) ? PRESETS[p] : p === "npm" || p === "debian" ? hostPresets()[p] : undefined;
    if (!hosts) throw new Error(`[bosun/egress] unknown preset "${p}"`);
    for (const h of hosts) if (!out.includes(h)) out.push(h);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Names and addresses

function stripBrackets(s: string): string {
  return s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
}

/** Lower case, no brackets around an IPv6 literal, no trailing dot. */
function normalizeHost(host: string): string {
  let h = stripBrackets(host.trim().toLowerCase());
  if (h.endsWith(".")) h = h.slice(0, -1);
  return h;
}

function parseIPv4(s: string): number[] | null {
  if (!net.isIPv4(s)) return null;
  return s.split(".").map(Number);
}

/** Eight 16-bit groups, or null. Accepts an embedded IPv4 tail and a zone id. */
function parseIPv6(input: string): number[] | null {
  let s = stripBrackets(input);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (!net.isIPv6(s)) return null;
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const v4 = parseIPv4(tail);
    if (!v4) return null;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    s = `${s.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  if (fill < 0 || (halves.length === 1 && head.length !== 8)) return null;
  const groups = [...head, ...Array<string>(fill).fill("0"), ...rest];
  if (groups.length !== 8 || !groups.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  return groups.map((g) => parseInt(g, 16));
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, translated, NAT64, 6to4), if any. */
function embeddedIPv4(g: number[]): number[] | null {
  const w = (i: number): number => g[i] ?? 0;
  const v4 = (hi: number, lo: number): number[] => [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
  const zeroUpTo = (n: number): boolean => g.slice(0, n).every((x) => x === 0);
  if (zeroUpTo(5) && w(5) === 0xffff) return v4(w(6), w(7)); // ::ffff:a.b.c.d (mapped)
  if (zeroUpTo(6)) return v4(w(6), w(7)); // ::a.b.c.d (compatible), also :: and ::1
  if (zeroUpTo(4) && w(4) === 0xffff && w(5) === 0) return v4(w(6), w(7)); // ::ffff:0:a.b.c.d
  if (w(0) === 0x64 && w(1) === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return v4(w(6), w(7)); // 64:ff9b::/96
  if (w(0) === 0x2002) return v4(w(1), w(2)); // 6to4
  return null;
}

function internalIPv4(o: number[]): boolean {
  const [a = 0, b = 0] = o;
  return (
    a === 0 || // "this network", unspecified
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // CGNAT
    (a === 169 && b === 254) || // link-local, cloud metadata
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0 && o[2] === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking, used inside some networks
    a >= 224 // multicast, reserved, broadcast
  );
}

/** True for addresses inside Bosun's own networks, or anything that is not an IP address at all. */
export function isInternalAddress(address: string): boolean {
  const v4 = parseIPv4(address.trim());
  if (v4) return internalIPv4(v4);
  const g = parseIPv6(address.trim());
  if (!g) return true; // not an address: fail closed
  const embedded = embeddedIPv4(g);
  if (embedded) return internalIPv4(embedded);
  const first = g[0] ?? 0;
  return (
    (first & 0xffc0) === 0xfe80 || // link-local fe80::/10
    (first & 0xffc0) === 0xfec0 || // site-local (deprecated) fec0::/10
    (first & 0xfe00) === 0xfc00 || // unique-local fc00::/7
    (first & 0xff00) === 0xff00 || // multicast
    (first === 0x64 && g[1] === 0xff9b && g[2] === 1) // local-use NAT64 64:ff9b:1::/48
  );
}

/** A comparison key for an IP address: mapped IPv6 forms collapse to their IPv4 address. */
function ipKey(address: string): string {
  const v4 = parseIPv4(address);
  if (v4) return v4.join(".");
  const g = parseIPv6(address);
  if (!g) return address.toLowerCase();
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const hi = g[6] ?? 0;
    const lo = g[7] ?? 0;
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
  }
  return g.map((x) => x.toString(16)).join(":");
}

// ---------------------------------------------------------------------------------------------
// Allowlist

interface Entry {
  raw: string;
  /** Normalized name, ".suffix" for a wildcard, or an ipKey for an IP literal. */
  pattern: string;
  wildcard: boolean;
  ip: boolean;
  ports: number[];
  source: string;
}

function parseEntry(raw: string, source: string): Entry | null {
  const s = raw.trim().toLowerCase();
  if (!s) return null;
  let host: string;
  let port: string | undefined;
  if (s.startsWith("[")) {
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    if (!m?.[1]) return null;
    host = m[1];
    port = m[2];
  } else if ((s.match(/:/g)?.length ?? 0) > 1) {
    host = s; // bare IPv6 literal, no port
  } else {
    const i = s.lastIndexOf(":");
    host = i >= 0 ? s.slice(0, i) : s;
    port = i >= 0 ? s.slice(i + 1) : undefined;
  }
  let ports = DEFAULT_PORTS;
  if (port !== undefined) {
    const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
    if (!(n >= 1 && n <= 65535)) return null;
    ports = [n];
  }
  host = normalizeHost(host);
  if (net.isIP(host)) return { raw, pattern: ipKey(host), wildcard: false, ip: true, ports, source };
  const wildcard = host.startsWith("*.");
  const name = wildcard ? host.slice(1) : host;
  if (!/^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(name)) return null;
  return { raw, pattern: name, wildcard, ip: false, ports, source };
}

interface Compiled {
  entries: Entry[];
  invalid: string[];
}

function compileRule(rule: EgressRule): Compiled {
  const entries: Entry[] = [];
  const invalid: string[] = [];
  for (const h of rule.hosts) {
    const e = parseEntry(h, "policy: network.hosts");
    if (e) entries.push(e);
    else invalid.push(h);
  }
  for (const p of rule.presets) {
    for (const h of expandPresets([p])) {
      const e = parseEntry(h, `preset ${p}`);
      if (e) entries.push(e);
    }
  }
  return { entries, invalid };
}

function matchCompiled(c: Compiled, host: string, port: number): { allowed: boolean; reason: string } {
  const h = normalizeHost(host);
  if (!h) return { allowed: false, reason: "the request names no host" };
  const key = net.isIP(h) ? ipKey(h) : h;
  const byName = c.entries.filter((e) =>
    e.wildcard ? key.endsWith(e.pattern) && key.length > e.pattern.length : e.pattern === key,
  );
  if (byName.length === 0) return { allowed: false, reason: `"${h}" is not in the allowlist (policy: network.hosts / presets)` };
  const hit = byName.find((e) => e.ports.includes(port));
  if (!hit) {
    const ports = [...new Set(byName.flatMap((e) => e.ports))].sort((a, b) => a - b);
    return { allowed: false, reason: `"${h}" is in the allowlist, but not on port ${port} (allowed ports: ${ports.join(", ")})` };
  }
  return { allowed: true, reason: `"${h}" matches "${hit.raw}" (${hit.source})` };
}

/**
 * Whether every name and port `asked` stands for is also allowed by `allowed`: a repository may
 * narrow an org's list, never widen it (`*.example.com` covers `a.example.com`, not the reverse).
 */
export function entryWithin(asked: string, allowed: string[]): boolean {
  const a = parseEntry(asked, "repository");
  if (!a) return false;
  return allowed.some((raw) => {
    const e = parseEntry(raw, "policy");
    if (!e || e.ip !== a.ip) return false;
    const names = e.wildcard ? a.pattern.endsWith(e.pattern) && (a.wildcard || a.pattern.length > e.pattern.length) : !a.wildcard && a.pattern === e.pattern;
    return names && a.ports.every((p) => e.ports.includes(p));
  });
}

export function hostAllowed(rule: EgressRule, host: string, port: number): { allowed: boolean; reason: string } {
  return matchCompiled(compileRule(rule), host, port);
}

// ---------------------------------------------------------------------------------------------
// Package downloads

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function pep503(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, "-");
}

export function recogniseDependency(host: string, path: string): DependencyInstall | null {
  const bare = path.replace(/[?#].*$/, "");
  const seg = bare.split("/").filter((s) => s !== "").map(decodeSegment);
  const n = seg.length;
  const file = seg[n - 1] ?? "";
  const url = `http://${host}${bare}`;
  const found = (ecosystem: DependencyInstall["ecosystem"], name: string, version: string | null): DependencyInstall => ({
    ecosystem,
    name,
    version,
    host,
    url,
  });

  // npm: /<name>/-/<name>-<version>.tgz, /@scope/<name>/-/<name>-<version>.tgz (any prefix)
  if (file.endsWith(".tgz") && seg[n - 2] === "-" && n >= 3) {
    const nameSeg = seg[n - 3] ?? "";
    const scope = seg[n - 4];
    let full = nameSeg;
    let base = nameSeg;
    if (nameSeg.startsWith("@") && nameSeg.includes("/")) base = nameSeg.slice(nameSeg.indexOf("/") + 1);
    else if (scope?.startsWith("@")) full = `${scope}/${nameSeg}`;
    const version = file.startsWith(`${base}-`) ? file.slice(base.length + 1, -".tgz".length) : "";
    if (base && /^\d/.test(version)) return found("npm", full, version);
  }

  // PyPI: /packages/.../<name>-<version>(.tar.gz|.zip|-<tags>.whl)
  if (seg.includes("packages")) {
    if (file.endsWith(".whl")) {
      const parts = file.slice(0, -".whl".length).split("-");
      if (parts.length >= 5 && parts[0] && parts[1]) return found("pypi", pep503(parts[0]), parts[1]);
    }
    const m = /^(.+)-(\d[^-]*)\.(?:tar\.gz|tar\.bz2|tgz|zip)$/.exec(file);
    if (m?.[1] && m[2]) return found("pypi", pep503(m[1]), m[2]);
  }

  // crates: /api/v1/crates/<name>/<version>/download, static.crates.io /crates/<name>/<name>-<version>.crate
  if (file === "download" && n >= 6 && seg[n - 6] === "api" && seg[n - 5] === "v1" && seg[n - 4] === "crates") {
    const name = seg[n - 3];
    const version = seg[n - 2];
    if (name && version) return found("crates", name, version);
  }
  if (file.endsWith(".crate") && n >= 3 && seg[n - 3] === "crates") {
    const name = seg[n - 2] ?? "";
    if (name && file.startsWith(`${name}-`)) return found("crates", name, file.slice(name.length + 1, -".crate".length));
  }

  // Go module proxy: /<module>/@v/<version>.zip, module path with "!x" for upper case
  const at = bare.indexOf("/@v/");
  if (at > 0 && file.endsWith(".zip") && seg[n - 2] === "@v") {
    const module = decodeSegment(bare.slice(1, at)).replace(/!([a-z])/g, (_m, c: string) => c.toUpperCase());
    const version = file.slice(0, -".zip".length);
    if (module && version) return found("go", module, version);
  }

  // Maven: .../<group path>/<artifact>/<version>/<artifact>-<version>[-classifier].jar
  if (file.endsWith(".jar") && n >= 4) {
    const artifact = seg[n - 3] ?? "";
    const version = seg[n - 2] ?? "";
    const stem = `${artifact}-${version}`;
    const after = file.slice(stem.length, -".jar".length);
    if (artifact && version && file.startsWith(stem) && (after === "" || after.startsWith("-"))) {
      const group = seg.slice(0, n - 3);
      if (group[0] === "maven2" && group.length > 1) group.shift();
      return found("maven", `${group.join(".")}:${artifact}`, version);
    }
  }

  // RubyGems: /gems/<name>-<version>[-<platform>].gem
  if (file.endsWith(".gem") && seg[n - 2] === "gems") {
    const m = /^(.+?)-(\d[^-]*)(?:-.+)?\.gem$/.exec(file);
    if (m?.[1] && m[2]) return found("rubygems", m[1], m[2]);
  }

  // Debian: /pool/.../<name>_<version>_<arch>.deb
  if (seg.includes("pool") && (file.endsWith(".deb") || file.endsWith(".udeb"))) {
    const parts = file.slice(0, file.lastIndexOf(".")).split("_");
    if (parts.length === 3 && parts[0] && parts[1]) return found("debian", parts[0], parts[1]);
  }

  return null;
}

// ---------------------------------------------------------------------------------------------
// The proxy

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/** Headers to pass on: without hop-by-hop, Proxy-*, Host and anything `Connection` names. */
function forwardable(raw: string[]): Record<string, string[]> {
  const drop = new Set(HOP_BY_HOP);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === "connection") {
      for (const t of (raw[i + 1] ?? "").split(",")) drop.add(t.trim().toLowerCase());
    }
  }
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? "").toLowerCase();
    if (!name || drop.has(name) || name.startsWith("proxy-")) continue;
    (out[name] ??= []).push(raw[i + 1] ?? "");
  }
  return out;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type Vetted =
  | { ok: true; reason: string; addresses: string[] }
  | { ok: false; allowed: boolean; status: 403 | 502; reason: string };

/** Split a CONNECT target "host:port" / "[v6]:port". */
function parseAuthority(target: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !(port >= 1 && port <= 65535)) return null;
  return { host, port };
}

async function defaultResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true })).map((a) => a.address);
}

export async function startEgressProxy(o: EgressProxyOptions): Promise<EgressProxy> {
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
  const timeoutMs = o.connectTimeoutMs ?? 10_000;
  const names = createNameCache({ ...o.nameCache, resolve: o.resolve ?? defaultResolve, timeoutMs });

  const log: NetworkEvent[] = [];
  const clientSockets = new Set<Duplex>();
  const upstreamSockets = new Set<net.Socket>();
  const pending = new Set<Promise<void>>();
  let closing = false;

  const record = (e: NetworkEvent): void => {
    log.push(e);
    try {
      o.onEvent?.(e);
    } catch {
      // A failing listener must not take the proxy (and the phase's network) down.
    }
  };

  /** One event per request: the returned function emits it once, and close() waits for it. */
  const begin = (method: string): { emit: (e: Omit<NetworkEvent, "method" | "startedAt" | "durationMs">) => void } => {
    const started = Date.now();
    let done: () => void = () => {};
    const p = new Promise<void>((r) => (done = r));
    pending.add(p);
    let emitted = false;
    return {
      emit: (e) => {
        if (emitted) return;
        emitted = true;
        record({ ...e, method, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started });
        pending.delete(p);
        done();
      },
    };
  };

  const vet = async (rawHost: string, port: number): Promise<Vetted> => {
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

  /** TCP to the vetted addresses in turn, each attempt bounded by the connect timeout. */
  const connectVetted = async (addresses: string[], port: number): Promise<net.Socket> => {
    let last: unknown = new Error("no address");
    for (const address of addresses) {
      if (closing) throw new Error("the egress proxy is closing");
      try {
        const socket = await new Promise<net.Socket>((resolveSocket, reject) => {
          const s = net.connect({ host: address, port });
          upstreamSockets.add(s);
          s.once("close", () => upstreamSockets.delete(s));
          const timer = setTimeout(() => {
            s.destroy();
            reject(new Error(`connect to ${address} port ${port} timed out after ${timeoutMs} ms`));
          }, timeoutMs);
          s.once("connect", () => {
            clearTimeout(timer);
            s.removeListener("error", reject);
            resolveSocket(s);
          });
          s.once("error", (err) => {
            clearTimeout(timer);
            reject(err);
          });
        });
        if (closing) {
          socket.destroy();
          throw new Error("the egress proxy is closing");
        }
        return socket;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };

  const text = (res: http.ServerResponse, status: number, body: string): void => {
    if (res.destroyed || res.writableEnded) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const buf = Buffer.from(`${body}\n`);
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": buf.length });
    res.end(buf);
  };

  const handleHttp = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const ev = begin(method);
    let clientGone = false;
    let onClientClose = (): void => {};
    res.once("close", () => {
      clientGone = true;
      onClientClose();
    });
    let url: URL | null = null;
    try {
      url = new URL(req.url ?? "");
    } catch {
      // origin-form or garbage: not a proxy request
    }
    if (!url || url.protocol !== "http:") {
      const reason = url
        ? `only http:// targets are forwarded as plain requests; ${url.protocol} goes through CONNECT`
        : `"${req.url ?? ""}" is not an absolute http:// request target`;
      text(res, 400, `Bosun egress proxy: ${reason}`);
      ev.emit({ host: normalizeHost(req.headers.host ?? ""), port: 0, allowed: false, reason, bytesUp: 0, bytesDown: 0, status: 400 });
      return;
    }
    const host = normalizeHost(url.hostname);
    const port = url.port ? Number(url.port) : 80;
    const path = url.pathname;
    const base = { host, port, path };

    const v = await vet(host, port);
    if (!v.ok) {
      text(res, v.status, `Bosun egress proxy refused ${host}:${port}: ${v.reason}`);
      ev.emit({ ...base, allowed: v.allowed, reason: v.reason, bytesUp: 0, bytesDown: 0, status: v.status });
      return;
    }
    let upstream: net.Socket;
    try {
      if (clientGone) throw new Error("the client went away");
      upstream = await connectVetted(v.addresses, port);
    } catch (err) {
      const reason = `${v.reason}; could not connect to ${host}:${port}: ${errorText(err)}`;
      text(res, 502, `Bosun egress proxy: ${reason}`);
      ev.emit({ ...base, allowed: true, reason, bytesUp: 0, bytesDown: 0, status: 502 });
      return;
    }
    if (clientGone) {
      upstream.destroy();
      ev.emit({ ...base, allowed: true, reason: `${v.reason}; the client went away`, bytesUp: 0, bytesDown: 0 });
      return;
    }

    let reason = v.reason;
    let status: number | undefined;
    const headers = forwardable(req.rawHeaders);
    const up = http.request({
      method,
      path: `${url.pathname}${url.search}`,
      headers: { ...headers, host: url.host },
      setHost: false,
      createConnection: () => upstream,
    });
    up.on("response", (ur) => {
      status = ur.statusCode ?? 502;
      res.writeHead(status, ur.statusMessage, forwardable(ur.rawHeaders));
      ur.pipe(res);
      ur.on("error", () => res.destroy());
    });
    up.on("error", (err) => {
      if (clientGone) return;
      reason = `${v.reason}; error from ${host}:${port}: ${errorText(err)}`;
      if (!res.headersSent) {
        status = 502;
        text(res, 502, `Bosun egress proxy: ${reason}`);
      } else res.destroy();
    });
    req.pipe(up);
    onClientClose = () => {
      const finished = res.writableFinished;
      ev.emit({ ...base, allowed: true, reason, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, status });
      upstream.destroy();
      if (finished && status !== undefined && status >= 200 && status < 300 && o.onDependency) {
        const dep = recogniseDependency(host, path);
        if (dep) {
          try {
            o.onDependency({ ...dep, url: `http://${url.host}${path}` });
          } catch {
            // as for onEvent: the listener's failure is not the download's
          }
        }
      }
    };
  };

  const handleConnect = async (req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const ev = begin("CONNECT");
    socket.on("error", () => {});
    const target = parseAuthority(req.url ?? "");
    const refuse = (status: number, statusText: string, body: string): void => {
      const buf = Buffer.from(`${body}\n`);
      socket.end(
        `HTTP/1.1 ${status} ${statusText}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${buf.length}\r\nconnection: close\r\n\r\n${buf.toString()}`,
      );
    };
    if (!target) {
      const reason = `"${req.url ?? ""}" is not a host:port CONNECT target`;
      refuse(400, "Bad Request", `Bosun egress proxy: ${reason}`);
      ev.emit({ host: "", port: 0, allowed: false, reason, bytesUp: 0, bytesDown: 0, status: 400 });
      return;
    }
    const host = normalizeHost(target.host);
    const { port } = target;
    const v = await vet(host, port);
    if (!v.ok) {
      refuse(v.status, v.status === 403 ? "Forbidden" : "Bad Gateway", `Bosun egress proxy refused ${host}:${port}: ${v.reason}`);
      ev.emit({ host, port, allowed: v.allowed, reason: v.reason, bytesUp: 0, bytesDown: 0, status: v.status });
      return;
    }
    let upstream: net.Socket;
    try {
      if (socket.destroyed) throw new Error("the client went away");
      upstream = await connectVetted(v.addresses, port);
    } catch (err) {
      const reason = `${v.reason}; could not connect to ${host}:${port}: ${errorText(err)}`;
      refuse(502, "Bad Gateway", `Bosun egress proxy: ${reason}`);
      ev.emit({ host, port, allowed: true, reason, bytesUp: 0, bytesDown: 0, status: 502 });
      return;
    }
    if (socket.destroyed) {
      upstream.destroy();
      ev.emit({ host, port, allowed: true, reason: `${v.reason}; the client went away`, bytesUp: 0, bytesDown: 0 });
      return;
    }
    let reason = v.reason;
    let open = 2;
    const closed = (): void => {
      if (--open > 0) return;
      ev.emit({ host, port, allowed: true, reason, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, status: 200 });
    };
    upstream.on("error", (err) => {
      reason = `${v.reason}; tunnel error from ${host}:${port}: ${errorText(err)}`;
      socket.destroy();
    });
    socket.on("error", () => upstream.destroy());
    upstream.on("close", () => {
      if (!socket.writableEnded) socket.destroy();
      closed();
    });
    socket.on("close", () => {
      if (!upstream.writableEnded) upstream.destroy();
      closed();
    });
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  };

  const server = http.createServer({ keepAliveTimeout: 65_000 });
  server.on("connection", (s: net.Socket) => {
    clientSockets.add(s);
    s.once("close", () => clientSockets.delete(s));
  });
  server.on("request", (req, res) => void handleHttp(req, res));
  server.on("connect", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void handleConnect(req, socket, head));

  // A socket file left by a crashed run is replaced; anything else at that path is not ours.
  const existing = await lstat(o.socketPath).catch(() => null);
  if (existing?.isSocket()) await rm(o.socketPath, { force: true });
  else if (existing) throw new Error(`[bosun/egress] ${o.socketPath} exists and is not a socket`);

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(o.socketPath, () => {
      server.removeListener("error", reject);
      resolveListen();
    });
  });
  // The sandbox user (uid 1000) connects to a socket that Bosun (root) owns.
  await chmod(o.socketPath, 0o666);

  let closed: Promise<void> | null = null;
  return {
    socketPath: o.socketPath,
    events: () => [...log],
    close: () =>
      (closed ??= (async () => {
        closing = true;
        const serverClosed = new Promise<void>((r) => server.close(() => r()));
        for (const s of clientSockets) s.destroy();
        for (const s of upstreamSockets) s.destroy();
        server.closeAllConnections();
        await serverClosed;
        await Promise.all([...pending]);
        await rm(o.socketPath, { force: true });
      })()),
  };
}
