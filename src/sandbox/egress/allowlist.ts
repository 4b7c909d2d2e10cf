// The egress allowlist: names (exact, wildcard, IP literal, each with its ports) from policy and
// from registry presets, and whether a host and port are in it.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { ipKey, normalizeHost } from "./addresses.ts";

export interface EgressRule {
  /** Exact names ("registry.example.org") and wildcards ("*.pythonhosted.org", matches subdomains only). An entry may carry a port ("host:8443"); without one, ports 80 and 443 are allowed. */
  hosts: string[];
  /** Named presets of package registries, expanded to hosts: npm, pypi, crates, go, maven, rubygems, debian. */
  presets: string[];
  /** Static name → address pins that policy declares (like /etc/hosts). A pinned address is "listed explicitly", so it may be loopback/private. Also an IP literal listed in `hosts` is listed explicitly. */
  addresses?: Record<string, string>;
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


export interface Entry {
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

export interface Compiled {
  entries: Entry[];
  invalid: string[];
}

export function compileRule(rule: EgressRule): Compiled {
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

export function matchCompiled(c: Compiled, host: string, port: number): { allowed: boolean; reason: string } {
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
