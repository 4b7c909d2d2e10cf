// Names and IP addresses as the egress proxy compares them, and which addresses are inside Bosun's
// own networks (refused unless policy lists them explicitly).
import net from "node:net";


export function stripBrackets(s: string): string {
  return s.startsWith("[") && s.endsWith("]") ? s.slice(1, -1) : s;
}

/** Lower case, no brackets around an IPv6 literal, no trailing dot. */
export function normalizeHost(host: string): string {
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
export function ipKey(address: string): string {
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
