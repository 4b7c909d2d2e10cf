// Where the dashboard sends someone after signing in: only a page of Bosun's own. A `next` is
// parsed the way a browser would (the WHATWG URL parser, against Bosun's public origin) and must
// keep that origin; what browsers read leniently is refused before that, since a browser may
// resolve it differently from the server: `/\t/evil.example` loses its tab and becomes
// `//evil.example`, another site, and `/\evil.example` is `//evil.example` to a browser too.
const fallback = "/runs";

export function safeNext(next: string | undefined | null, publicUrl: string): string {
  if (!next || next.length > 2048 || !next.startsWith("/")) return fallback;
  // Backslashes, control characters (tab, newline, NUL, DEL) and a second leading slash.
  // eslint-disable-next-line no-control-regex -- control characters are what is looked for
  if (/[\\\u0000-\u001F\u007F]/.test(next) || next.startsWith("//")) return fallback;
  let home: URL;
  let target: URL;
  try {
    home = new URL(publicUrl);
    target = new URL(next, home);
  } catch {
    return fallback;
  }
  if (target.origin !== home.origin) return fallback;
  const path = `${target.pathname}${target.search}${target.hash}`;
  return path.startsWith("/") && !path.startsWith("//") ? path : fallback;
}
