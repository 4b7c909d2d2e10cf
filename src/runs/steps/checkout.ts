// Bosun's own clone of the repository at the run's base commit, on the host. It is rebuilt when
// missing (another replica, a restart), so every step that needs it can be repeated.
import { access, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { cloneAt, runGit } from "../../github/git.ts";
import type { RunContext } from "../run-context.ts";

export async function ensureCheckout(ctx: RunContext): Promise<string> {
  const dir = join(ctx.dir, "repo");
  const { run } = ctx;
  const base = run.baseSha;
  if (base) {
    const head = await access(join(dir, ".git")).then(() => runGit(dir, ["rev-parse", "HEAD"]).catch(() => ""), () => "");
    if (head.trim() === base) return dir;
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
