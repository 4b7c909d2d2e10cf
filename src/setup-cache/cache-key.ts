// What decides whether a saved setup result still fits a commit: the image (by its id, so a
// re-tagged image is a new key), the setup command as the shell runs it, and the content of the
// files setup reads (git's blob ids, which are hashes of the content). Lockfiles and manifests
// anywhere in the tree count by default; a repository names more in `setup.cache.key_files`.
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { minimatch } from "minimatch";
import { runGit } from "../github/git.ts";

/** Names of the files package managers and toolchains read before they install anything. */
export const defaultKeyFiles = [
  // JavaScript
  "package.json", "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", ".yarnrc", ".yarnrc.yml", "pnpm-lock.yaml", "pnpm-workspace.yaml", ".pnpmfile.cjs", "bun.lock", "bun.lockb", "deno.json", "deno.jsonc", "deno.lock", ".npmrc", ".nvmrc", ".node-version",
  // Python
  "requirements*.txt", "requirements*.in", "constraints*.txt", "pyproject.toml", "poetry.lock", "Pipfile", "Pipfile.lock", "uv.lock", "pdm.lock", "setup.py", "setup.cfg", "environment.yml", "environment.yaml", ".python-version",
  // Go, Rust
  "go.mod", "go.sum", "go.work", "go.work.sum", "Cargo.toml", "Cargo.lock", "rust-toolchain", "rust-toolchain.toml",
  // Ruby, JVM, .NET, PHP, and version managers
  "Gemfile", "Gemfile.lock", "*.gemspec", ".ruby-version", "pom.xml", "build.gradle", "build.gradle.kts", "settings.gradle", "settings.gradle.kts", "gradle.properties", "gradle-wrapper.properties", "libs.versions.toml",
  "*.csproj", "*.fsproj", "packages.lock.json", "Directory.Packages.props", "global.json", "composer.json", "composer.lock", ".tool-versions",
] as const;

/** Key files by path: folders of requirements, Yarn's own folder, patch-package's patches. */
export const defaultKeyPaths = ["**/requirements/*.txt", "**/requirements/*.in", ".yarn/**", "patches/**"] as const;

export interface CacheKeyInputs {
  repoId: number;
  /** The image's id as Docker reports it (`sha256:…`). */
  imageId: string;
  /** The command as the shell runs it (dev container variables included). */
  command: string;
  /** path → blob id at the commit, sorted by path. */
  files: [string, string][];
  /** What setup may reach: the setup phase's network and the certificate authorities it trusts. */
  environment?: Record<string, unknown>;
}

export interface CacheKey { key: string; inputs: CacheKeyInputs }

/**
 * The key files at `commit` in the checkout `dir`: the defaults by name anywhere and by path,
 * `extraGlobs` by path, and any file the setup command names (`./scripts/bootstrap.sh`, and the
 * Makefile of `make deps`).
 */
export async function keyFilesAt(dir: string, commit: string, extraGlobs: string[], command = ""): Promise<[string, string][]> {
  const listing = await runGit(dir, ["ls-tree", "-r", "-z", "--full-tree", commit]);
  const named = namedInCommand(command);
  const globs = [...defaultKeyPaths, ...extraGlobs];
  const out: [string, string][] = [];
  for (const entry of listing.split("\0")) {
    const tab = entry.indexOf("\t");
    if (tab < 0) continue;
    const [, type, blob] = entry.slice(0, tab).split(" ");
    const path = entry.slice(tab + 1);
    if (type !== "blob" || !blob) continue;
    const name = basename(path);
    const byName = defaultKeyFiles.some((pattern) => minimatch(name, pattern, { dot: true }));
    if (byName || named.has(path) || globs.some((glob) => minimatch(path, glob, { dot: true }))) out.push([path, blob]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Paths a shell command names, as the repository's root sees them; `make` reads the Makefile. */
function namedInCommand(command: string): Set<string> {
  const words = command.split(/[\s;&|()<>'"`]+/).filter(Boolean);
  const paths = new Set(words.map((w) => w.replace(/^\.\//, "")));
  if (words.includes("make")) for (const m of ["Makefile", "makefile", "GNUmakefile"]) paths.add(m);
  return paths;
}

export function cacheKey(inputs: CacheKeyInputs): CacheKey {
  const key = createHash("sha256").update(JSON.stringify({ version: 1, ...inputs })).digest("hex");
  return { key, inputs };
}

/** The key files that differ between two sets of inputs, for "setup ran again because …". */
export function changedKeyFiles(a: CacheKeyInputs, b: CacheKeyInputs): string[] {
  const before = new Map(a.files);
  const after = new Map(b.files);
  const paths = new Set([...before.keys(), ...after.keys()]);
  return [...paths].filter((p) => before.get(p) !== after.get(p)).sort();
}
