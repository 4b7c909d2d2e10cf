// Which of a change's files fall under the org's protected paths. A glob alone is not enough: an
// agent can replace a protected folder (or its parent) by a file or a symbolic link, rename the
// folder, or add a link elsewhere that points into it; each of those counts as a change to it.
import { posix } from "node:path";
import { minimatch } from "minimatch";

export interface ChangedEntry {
  path: string;
  /** Where a symbolic link the change adds or edits points (as stored in git), if it is one. */
  symlinkTarget?: string | null;
}

/** The folders a glob can only match below: `.github/workflows/**` → `.github`, `.github/workflows`. */
function literalFolders(glob: string): string[] {
  const segments = glob.split("/");
  const out: string[] = [];
  for (let i = 0; i < segments.length - 1; i++) {
    const seg = segments[i] ?? "";
    if (/[*?[\]{}!]/.test(seg)) break;
    out.push(segments.slice(0, i + 1).join("/"));
  }
  return out;
}

function touches(path: string, globs: string[]): boolean {
  const p = posix.normalize(path).replace(/^\.\/+/, "").replace(/\/+$/, "");
  if (p === "" || p === ".") return false;
  return globs.some((g) => minimatch(p, g, { dot: true }) || literalFolders(g).includes(p));
}

/**
 * Changed paths under the protected globs: a path that matches, a path that is (or was) one of the
 * folders a glob lives in (`.github/workflows` replaced by a link or a file; a rename of the folder
 * shows as the deletion of its files, which match), and a symbolic link pointing into one.
 */
export function protectedChanges(changes: ChangedEntry[], globs: string[]): string[] {
  const out: string[] = [];
  for (const c of changes) {
    let hit = touches(c.path, globs);
    if (!hit && c.symlinkTarget) {
      const target = c.symlinkTarget.startsWith("/") ? c.symlinkTarget : posix.join(posix.dirname(c.path), c.symlinkTarget);
      // A link out of the repository points at nothing GitHub reads; one inside it is read as its target.
      if (!posix.normalize(target).startsWith("..")) hit = touches(target, globs);
    }
    if (hit) out.push(c.path);
  }
  return out;
}
