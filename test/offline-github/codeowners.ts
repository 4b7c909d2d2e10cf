// CODEOWNERS as GitHub reads it: the first file found of .github/, root, docs/; the last matching
// pattern wins; patterns follow gitignore rules.

export interface OwnerRule { pattern: string; re: RegExp; owners: string[] }

export function parseCodeowners(text: string): OwnerRule[] {
  const rules: OwnerRule[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (!line || line.startsWith("#")) continue;
    const [pattern, ...owners] = line.split(/\s+/);
    if (!pattern) continue;
    rules.push({ pattern, re: patternToRegExp(pattern), owners: owners.filter((o) => o.startsWith("@") || o.includes("@")) });
  }
  return rules;
}

export function ownersOf(rules: OwnerRule[], path: string): string[] {
  let owners: string[] = [];
  for (const r of rules) if (r.re.test(path)) owners = r.owners;
  return owners;
}

function patternToRegExp(pattern: string): RegExp {
  let p = pattern;
  const anchored = p.startsWith("/") || p.slice(0, -1).includes("/");
  p = p.replace(/^\//, "");
  const dirOnly = p.endsWith("/");
  p = p.replace(/\/$/, "");
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === "*" && p[i + 1] === "*") {
      const slash = p[i + 2] === "/";
      re += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  const prefix = anchored ? "^" : "^(?:.*/)?";
  // A name matches itself and, when it is a directory, everything under it.
  const suffix = dirOnly ? "/.*$" : "(?:/.*)?$";
  return new RegExp(prefix + re + suffix);
}
