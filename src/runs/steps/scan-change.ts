// The leak check over the agent's change as files, not as a patch: a binary file's patch is
// compressed, so a secret in it never shows in the patch's text. Once the patch is applied to
// Bosun's checkout, every added or changed file is read whole, as bytes, from there (regular files
// only; a symlink's target is read as text, never followed) and searched for every secret as
// written and in its encoded forms.
import { lstat, open, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { Redactor } from "../../audit/redactor.ts";
import { runGit } from "../../github/git.ts";

const chunkBytes = 8 * 1024 * 1024;

/** Whether the bytes of one regular file hold a secret; read in chunks that overlap by more than the longest form. */
export async function fileHoldsSecret(redactor: Redactor, path: string): Promise<boolean> {
  const overlap = 2 * redactor.longestForm + 1024;
  const handle = await open(path, "r");
  try {
    let carry = Buffer.alloc(0);
    for (;;) {
      const buf = Buffer.alloc(chunkBytes);
      const { bytesRead } = await handle.read(buf, 0, chunkBytes, null);
      if (bytesRead === 0) return false;
      const window = Buffer.concat([carry, buf.subarray(0, bytesRead)]);
      if (redactor.foundInBytes(window)) return true;
      carry = window.subarray(Math.max(0, window.length - overlap));
    }
  } finally {
    await handle.close();
  }
}

/**
 * The first file of the change (staged in `checkout` against `base`) that holds a secret, or its
 * name that does; null when none does.
 */
export async function secretInChange(redactor: Redactor, checkout: string, base: string): Promise<string | null> {
  // -z: names as they are (no quoting); deleted files have nothing left to hold a secret.
  const out = await runGit(checkout, ["diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=d", base]);
  for (const name of out.split("\0").filter(Boolean)) {
    if (redactor.found(name)) return name;
    const path = join(checkout, name);
    const stat = await lstat(path).catch(() => null);
    if (!stat) continue;
    if (stat.isSymbolicLink()) {
      if (redactor.foundInBytes(Buffer.from(await readlink(path, { encoding: "buffer" })))) return name;
    } else if (stat.isFile()) {
      if (await fileHoldsSecret(redactor, path)) return name;
    }
    // Anything else (a submodule's commit) is a name and a sha, already in the patch.
  }
  return null;
}
