// Package downloads recognised in plain-HTTP requests' paths, per ecosystem, for the transcript.

export interface DependencyInstall {
  ecosystem: "npm" | "pypi" | "crates" | "go" | "maven" | "rubygems" | "debian";
  name: string;
  version: string | null;
  host: string;
  url: string;
}


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
