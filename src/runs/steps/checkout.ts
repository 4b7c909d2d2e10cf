// Bosun's own clone of the repository at the run's base commit (or at the commit the run built on
// it), on the host. It is rebuilt when missing (another replica, a restart), so every step that
// needs it can be repeated.
import { access, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { cloneAt, runGit } from "../../github/git.ts";
import type { RunContext } from "../run-context.ts";

export async function ensureCheckout(ctx: RunContext): Promise<string> {
  const dir = join(ctx.dir, "repo");
  const { run } = ctx;
  const base = run.baseSha;
  if (base) {
    const head = await headOf(dir);
    // At the base, or at the commit this run built on it (verify built it; publish pushes it).
    if (head === base || (head !== null && head === run.facts.commitSha)) return dir;
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(ctx.dir, { recursive: true });
  const branch = run.baseBranch ?? run.facts.defaultBranch;
  const url = run.facts.cloneUrl;
  if (!branch || !url) throw new Error("[bosun/runs] the run has no base branch or clone URL yet");
  const { token } = await ctx.tokens.get("fetch");
  const head = await cloneAt({ url, token, dir, branch });
  if (base && head !== base) await runGit(dir, ["reset", "--quiet", "--hard", base]);
  return dir;
}

/** The commit a checkout is at, or null when there is no checkout there. */
export async function headOf(dir: string): Promise<string | null> {
  const head = await access(join(dir, ".git")).then(() => runGit(dir, ["rev-parse", "HEAD"]).catch(() => ""), () => "");
  return head.trim() || null;
}
