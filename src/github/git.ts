// Git on Bosun's side of the sandbox: clone with a read token, commit the agent's change as
// Bosun, push with a write token. Tokens travel in environment variables (GIT_CONFIG_*), never
// in a URL or a command line that `ps` or .git/config would show.
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface GitAuthor { name: string; email: string }

// Settings that keep git from running or reading anything a repository's content could point it
// at: no hooks, no attribute or ignore files outside the tree, no user or system config.
const safety: [string, string][] = [
  ["core.hooksPath", "/dev/null"],
  ["core.attributesFile", "/dev/null"],
  ["core.excludesFile", "/dev/null"],
  ["core.fsmonitor", "false"],
  ["protocol.file.allow", "never"],
];

function gitEnv(token: string | null): Record<string, string> {
  const entries = [...safety];
  if (token) entries.push(["http.extraHeader", `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`]);
  const env: Record<string, string> = {
    GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", HOME: "/nonexistent",
    GIT_CONFIG_COUNT: String(entries.length),
  };
  entries.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  return env;
}

export function runGit(cwd: string, args: string[], o: { token?: string | null; env?: Record<string, string> } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("git", args, { cwd, env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...gitEnv(o.token ?? null), ...o.env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`[bosun/git] git ${args[0] ?? ""} failed: ${stderr.trim() || err.message}`, { cause: err }));
      else resolve(stdout);
    });
  });
}

/**
 * `$GIT_DIR/info/attributes`, which wins over every `.gitattributes` in the tree: it unsets the
 * attributes a repository (or an agent writing `.gitattributes`) could use to change what git
 * stores, shows or scans. `-diff` or `binary` would turn a text change into a "binary" patch that
 * neither the leak check nor the dashboard reads; `text`/`eol`/`crlf`, `filter`, `ident` and
 * `working-tree-encoding` would make the stored bytes differ from the files. Unset, git's own
 * content detection decides (a NUL byte makes a file binary) and files are stored as they are.
 */
export const neutralAttributes = "* !diff !text !eol !crlf !filter !ident !working-tree-encoding\n";

export async function neutralizeAttributes(dir: string): Promise<void> {
  const info = join(dir, ".git", "info");
  await mkdir(info, { recursive: true });
  await writeFile(join(info, "attributes"), neutralAttributes);
}

export async function cloneAt(o: { url: string; token: string; dir: string; branch: string }): Promise<string> {
  // Checked out only once the attributes are neutral, so the files are the commit's bytes.
  await runGit(process.cwd(), ["clone", "--quiet", "--no-tags", "--single-branch", "--no-checkout", "--branch", o.branch, o.url, o.dir], { token: o.token });
  await neutralizeAttributes(o.dir);
  await runGit(o.dir, ["reset", "--quiet", "--hard", "HEAD"]);
  return (await runGit(o.dir, ["rev-parse", "HEAD"])).trim();
}

/** Commits the index. A fixed `date` makes the sha repeatable for the same tree. */
export async function commitIndex(dir: string, o: { message: string; author: GitAuthor; date: string }): Promise<string> {
  const env = {
    GIT_AUTHOR_NAME: o.author.name, GIT_AUTHOR_EMAIL: o.author.email, GIT_AUTHOR_DATE: o.date,
    GIT_COMMITTER_NAME: o.author.name, GIT_COMMITTER_EMAIL: o.author.email, GIT_COMMITTER_DATE: o.date,
  };
  await runGit(dir, ["-c", "commit.gpgsign=false", "commit", "--quiet", "--no-verify", "-m", o.message], { env });
  return (await runGit(dir, ["rev-parse", "HEAD"])).trim();
}

/** Pushes `commit` to `branch` without force: a branch that moved under us is an error, not overwritten. */
export async function pushBranch(o: { dir: string; url: string; token: string; branch: string; commit: string }): Promise<void> {
  await runGit(o.dir, ["push", "--quiet", "--no-verify", o.url, `${o.commit}:refs/heads/${o.branch}`], { token: o.token });
}

/** The sha a remote branch points at, or null. */
export async function remoteBranchSha(o: { dir: string; url: string; token: string; branch: string }): Promise<string | null> {
  const out = await runGit(o.dir, ["ls-remote", o.url, `refs/heads/${o.branch}`], { token: o.token });
  return out.split(/\s+/)[0] || null;
}

/** Files changed between the base commit and the index, with git's status letter. */
export async function changedFiles(dir: string, base: string): Promise<{ path: string; status: string }[]> {
  const out = await runGit(dir, ["diff", "--cached", "--name-status", "--no-renames", base]);
  return out.split("\n").filter(Boolean).map((l) => {
    const [status, ...rest] = l.split("\t");
    return { status: status ?? "M", path: rest.join("\t") };
  });
}

/** The file's content at a commit, or null: read from git's objects, never through the worktree. */
export async function fileAtCommit(dir: string, commit: string, path: string): Promise<string | null> {
  return runGit(dir, ["show", `${commit}:${path}`]).catch(() => null);
}
