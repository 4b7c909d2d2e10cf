// Git data of the offline GitHub: one bare repository per repository, written with git's own
// plumbing and served over smart HTTP by `git http-backend`, so clients speak the real protocol.
import { execFile, spawn } from "node:child_process";
import { mkdir, rm, writeFile, chmod, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface GitResult { stdout: string; stderr: string; code: number }

export function git(cwd: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = execFile("git", args, {
      cwd,
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", ...opts.env },
      maxBuffer: 64 * 1024 * 1024,
      encoding: "buffer",
    }, (err, stdout, stderr) => {
      // A string code (ENOENT, …) means git could not be started; a number is its exit status.
      if (err && typeof err.code === "string") return reject(new Error(`[offline-github] cannot run git: ${err.message}`, { cause: err }));
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ stdout: stdout.toString("utf8"), stderr: stderr.toString("utf8"), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

async function gitOk(cwd: string, args: string[], opts: { input?: string | Buffer; env?: Record<string, string> } = {}): Promise<string> {
  const r = await git(cwd, args, opts);
  if (r.code !== 0) throw new Error(`[offline-github] git ${args.join(" ")} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface CommitAuthor { name: string; email: string }
export interface FileChange { [path: string]: string | Buffer | null }

// The pre-receive hook does what GitHub does at push time: refuse updates to protected branches,
// and refuse workflow changes from tokens without the `workflows` permission.
const preReceiveHook = `#!/bin/sh
status=0
while read old new ref; do
  for p in $OFFLINE_GITHUB_PROTECTED; do
    if [ "$ref" = "refs/heads/$p" ]; then
      echo "error: GH006: Protected branch update failed for $ref."
      echo "error: Changes must be made through a pull request."
      status=1
    fi
  done
  if [ "$OFFLINE_GITHUB_WORKFLOWS" != "write" ] && [ "$new" != "0000000000000000000000000000000000000000" ]; then
    if [ "$old" = "0000000000000000000000000000000000000000" ]; then range="$new --not --all"; else range="$old..$new"; fi
    wf=$(git log --format= --name-only $range -- .github/workflows 2>/dev/null | head -n 1)
    if [ -n "$wf" ]; then
      echo "refusing to allow a GitHub App to create or update workflow \\\`$wf\\\` without \\\`workflows\\\` permission"
      status=1
    fi
  fi
done
exit $status
`;

export class GitStore {
  readonly root: string;
  constructor(root: string) {
    this.root = root;
  }

  path(owner: string, name: string): string {
    return join(this.root, owner, `${name}.git`);
  }

  async create(owner: string, name: string, defaultBranch: string): Promise<void> {
    const dir = this.path(owner, name);
    await mkdir(dir, { recursive: true });
    await gitOk(dir, ["init", "--bare", "--quiet", `--initial-branch=${defaultBranch}`]);
    await gitOk(dir, ["config", "http.receivepack", "true"]);
    await gitOk(dir, ["config", "uploadpack.allowAnySHA1InWant", "true"]);
    const hook = join(dir, "hooks", "pre-receive");
    await writeFile(hook, preReceiveHook);
    await chmod(hook, 0o755);
  }

  async remove(owner: string, name: string): Promise<void> {
    await rm(this.path(owner, name), { recursive: true, force: true });
  }

  /** Writes a commit on `branch` (created from `from` when new) with the given file changes; null deletes. */
  async commit(owner: string, name: string, o: { branch: string; from?: string; files: FileChange; message: string; author: CommitAuthor; date: Date }): Promise<string> {
    const dir = this.path(owner, name);
    const current = await this.resolve(owner, name, o.branch);
    const parent = current ?? (o.from ? await this.resolve(owner, name, o.from) : null);
    const scratch = await mkdtemp(join(tmpdir(), "offline-github-index-"));
    const env = { GIT_INDEX_FILE: join(scratch, "index") };
    try {
      if (parent) await gitOk(dir, ["read-tree", parent], { env });
      for (const [path, content] of Object.entries(o.files)) {
        if (content === null) {
          await gitOk(dir, ["update-index", "--force-remove", "--", path], { env });
        } else {
          const blob = (await gitOk(dir, ["hash-object", "-w", "--stdin"], { input: content })).trim();
          const mode = path.endsWith(".sh") ? "100755" : "100644";
          await gitOk(dir, ["update-index", "--add", "--cacheinfo", `${mode},${blob},${path}`], { env });
        }
      }
      const tree = (await gitOk(dir, ["write-tree"], { env })).trim();
      const when = `${Math.floor(o.date.getTime() / 1000)} +0000`;
      const commitEnv = {
        GIT_AUTHOR_NAME: o.author.name, GIT_AUTHOR_EMAIL: o.author.email, GIT_AUTHOR_DATE: when,
        GIT_COMMITTER_NAME: o.author.name, GIT_COMMITTER_EMAIL: o.author.email, GIT_COMMITTER_DATE: when,
      };
      const sha = (await gitOk(dir, ["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-m", o.message], { env: commitEnv })).trim();
      // The old value guards against a concurrent update; for a new branch it says the branch must not exist yet.
      await gitOk(dir, ["update-ref", `refs/heads/${o.branch}`, sha, current ?? "0".repeat(40)]);
      return sha;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** A ref, branch name or sha to a commit sha, or null when it does not exist. */
  async resolve(owner: string, name: string, ref: string): Promise<string | null> {
    const dir = this.path(owner, name);
    const candidates = /^[0-9a-f]{40}$/.test(ref) ? [ref] : ref.startsWith("refs/") ? [ref] : [`refs/heads/${ref}`, `refs/tags/${ref}`];
    for (const c of candidates) {
      const r = await git(dir, ["rev-parse", "--verify", "--quiet", `${c}^{commit}`]);
      if (r.code === 0) return r.stdout.trim();
    }
    return null;
  }

  async refs(owner: string, name: string): Promise<Map<string, string>> {
    const out = await gitOk(this.path(owner, name), ["for-each-ref", "--format=%(refname) %(objectname)"]);
    const m = new Map<string, string>();
    for (const line of out.split("\n").filter(Boolean)) {
      const [ref, sha] = line.split(" ");
      if (ref && sha) m.set(ref, sha);
    }
    return m;
  }

  async setRef(owner: string, name: string, ref: string, sha: string | null): Promise<void> {
    const dir = this.path(owner, name);
    if (sha === null) await gitOk(dir, ["update-ref", "-d", ref]);
    else await gitOk(dir, ["update-ref", ref, sha]);
  }

  /** Object at `path` in `commit`: a file's bytes, a directory's entries, or null. */
  async entry(owner: string, name: string, commit: string, path: string): Promise<
    | { type: "file"; sha: string; content: Buffer }
    | { type: "dir"; entries: { type: "file" | "dir"; name: string; path: string; sha: string; size: number }[] }
    | null> {
    const dir = this.path(owner, name);
    const clean = path.replace(/^\/+|\/+$/g, "");
    const spec = clean === "" ? `${commit}^{tree}` : `${commit}:${clean}`;
    const t = await git(dir, ["cat-file", "-t", spec]);
    if (t.code !== 0) return null;
    const kind = t.stdout.trim();
    if (kind === "blob") {
      const sha = (await gitOk(dir, ["rev-parse", spec])).trim();
      const content = await new Promise<Buffer>((resolve, reject) => {
        execFile("git", ["cat-file", "blob", sha], { cwd: dir, encoding: "buffer", maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => (err ? reject(new Error(`[offline-github] git cat-file failed: ${err.message}`, { cause: err })) : resolve(stdout)));
      });
      return { type: "file", sha, content };
    }
    if (kind === "tree") {
      const out = await gitOk(dir, ["ls-tree", "-l", spec]);
      const entries = out.split("\n").filter(Boolean).map((line) => {
        const [meta, file] = line.split("\t") as [string, string];
        const [, type, sha, size] = meta.split(/\s+/) as [string, string, string, string];
        return { type: type === "tree" ? "dir" as const : "file" as const, name: file, path: clean ? `${clean}/${file}` : file, sha, size: size === "-" ? 0 : Number(size) };
      });
      return { type: "dir", entries };
    }
    return null;
  }

  async commitInfo(owner: string, name: string, sha: string): Promise<{ sha: string; tree: string; parents: string[]; author: { name: string; email: string; date: string }; committer: { name: string; email: string; date: string }; message: string } | null> {
    const r = await git(this.path(owner, name), ["show", "-s", "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B", sha]);
    if (r.code !== 0) return null;
    const [h, t, p, an, ae, ad, cn, ce, cd, ...msg] = r.stdout.split("\0");
    return {
      sha: h ?? "", tree: t ?? "", parents: (p ?? "").split(" ").filter(Boolean),
      author: { name: an ?? "", email: ae ?? "", date: ad ?? "" },
      committer: { name: cn ?? "", email: ce ?? "", date: cd ?? "" },
      message: msg.join("\0").replace(/\n+$/, ""),
    };
  }

  /** Files at `commit`, for reading CODEOWNERS and such. */
  async readFile(owner: string, name: string, commit: string, path: string): Promise<string | null> {
    const e = await this.entry(owner, name, commit, path);
    return e?.type === "file" ? e.content.toString("utf8") : null;
  }

  async isAncestor(owner: string, name: string, ancestor: string, descendant: string): Promise<boolean> {
    return (await git(this.path(owner, name), ["merge-base", "--is-ancestor", ancestor, descendant])).code === 0;
  }

  async changedFiles(owner: string, name: string, base: string, head: string): Promise<string[]> {
    const dir = this.path(owner, name);
    const mb = (await gitOk(dir, ["merge-base", base, head])).trim();
    return (await gitOk(dir, ["diff", "--name-only", mb, head])).split("\n").filter(Boolean);
  }

  /** Paths that differ between two commits; `from` null: every file of `to` (a root commit). */
  async diffNames(owner: string, name: string, from: string | null, to: string): Promise<string[]> {
    const dir = this.path(owner, name);
    const args = from === null ? ["ls-tree", "-r", "--name-only", to] : ["diff", "--name-only", "--no-renames", from, to];
    return (await gitOk(dir, args)).split("\n").filter(Boolean);
  }

  /** The merge base of two commits, or null when they share no history. */
  async mergeBase(owner: string, name: string, a: string, b: string): Promise<string | null> {
    const r = await git(this.path(owner, name), ["merge-base", a, b]);
    return r.code === 0 ? r.stdout.trim() : null;
  }

  /**
   * The unified diff (three lines of context, as GitHub shows pull requests) of one file between
   * the merge base of `base` and `head`, and `head`; null when the pull request does not change it.
   */
  async fileDiff(owner: string, name: string, base: string, head: string, path: string): Promise<string | null> {
    const dir = this.path(owner, name);
    const mbr = await git(dir, ["merge-base", base, head]);
    if (mbr.code !== 0) return null;
    const r = await git(dir, ["diff", "--no-color", "--no-ext-diff", "--no-renames", "-U3", mbr.stdout.trim(), head, "--", path]);
    return r.code === 0 && r.stdout !== "" ? r.stdout : null;
  }

  async diffStats(owner: string, name: string, base: string, head: string): Promise<{ commits: number; additions: number; deletions: number; changedFiles: number }> {
    const dir = this.path(owner, name);
    const mbr = await git(dir, ["merge-base", base, head]);
    if (mbr.code !== 0) return { commits: 0, additions: 0, deletions: 0, changedFiles: 0 };
    const mb = mbr.stdout.trim();
    const commits = Number((await gitOk(dir, ["rev-list", "--count", `${mb}..${head}`])).trim());
    const numstat = (await gitOk(dir, ["diff", "--numstat", mb, head])).split("\n").filter(Boolean);
    let additions = 0, deletions = 0;
    for (const l of numstat) {
      const [a, d] = l.split("\t");
      additions += Number(a) || 0;
      deletions += Number(d) || 0;
    }
    return { commits, additions, deletions, changedFiles: numstat.length };
  }

  /** A true merge commit of head into base, or null when they conflict. Does not move any ref. */
  async mergeCommit(owner: string, name: string, base: string, head: string, message: string, author: CommitAuthor, date: Date, squash = false): Promise<string | null> {
    const dir = this.path(owner, name);
    const r = await git(dir, ["merge-tree", "--write-tree", base, head]);
    if (r.code !== 0) return null;
    const tree = r.stdout.split("\n")[0]?.trim() ?? "";
    const when = `${Math.floor(date.getTime() / 1000)} +0000`;
    return (await gitOk(dir, ["commit-tree", tree, "-p", base, ...(squash ? [] : ["-p", head]), "-m", message], {
      env: { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_AUTHOR_DATE: when, GIT_COMMITTER_NAME: "GitHub", GIT_COMMITTER_EMAIL: "noreply@github.com", GIT_COMMITTER_DATE: when },
    })).trim();
  }

  async canMerge(owner: string, name: string, base: string, head: string): Promise<boolean> {
    return (await git(this.path(owner, name), ["merge-tree", "--write-tree", base, head])).code === 0;
  }

  /**
   * Runs `git http-backend` as a CGI program for one smart-HTTP request.
   * `hookEnv` reaches the pre-receive hook (protected branches, workflow permission).
   */
  serveHttp(req: IncomingMessage, res: ServerResponse, o: { pathInfo: string; query: string; remoteUser: string; hookEnv: Record<string, string>; beforeEnd?: () => Promise<void> }): Promise<void> {
    return new Promise((resolve) => {
      const env: Record<string, string> = {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        GIT_PROJECT_ROOT: this.root,
        GIT_HTTP_EXPORT_ALL: "1",
        PATH_INFO: o.pathInfo,
        QUERY_STRING: o.query,
        REQUEST_METHOD: req.method ?? "GET",
        CONTENT_TYPE: req.headers["content-type"] ?? "",
        REMOTE_USER: o.remoteUser,
        REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
        GIT_HTTP_MAX_REQUEST_BUFFER: "100M",
        ...o.hookEnv,
      };
      const encoding = req.headers["content-encoding"];
      if (typeof encoding === "string") env["HTTP_CONTENT_ENCODING"] = encoding;
      const protocol = req.headers["git-protocol"];
      if (typeof protocol === "string") env["GIT_PROTOCOL"] = protocol;
      const child = spawn("git", ["http-backend"], { env });
      req.pipe(child.stdin);
      let head = Buffer.alloc(0);
      let headersDone = false;
      child.stdout.on("data", (chunk: Buffer) => {
        if (headersDone) {
          res.write(chunk);
          return;
        }
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        headersDone = true;
        let status = 200;
        for (const line of head.subarray(0, end).toString("latin1").split("\r\n")) {
          const at = line.indexOf(":");
          if (at < 0) continue;
          const key = line.slice(0, at).trim();
          const value = line.slice(at + 1).trim();
          if (key.toLowerCase() === "status") status = Number.parseInt(value, 10);
          else res.setHeader(key, value);
        }
        res.writeHead(status);
        res.write(head.subarray(end + 4));
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("close", (code) => {
        // What follows a push (webhooks, workflow runs) is decided before the response ends, so
        // the client's `git push` returns once GitHub would have reacted.
        void (o.beforeEnd ?? (() => Promise.resolve()))().catch((e: unknown) => {
          stderr += `\n[offline-github] after the push: ${String(e)}`;
          console.error(`[offline-github] after the push: ${String(e)}`);
        }).finally(() => {
          if (!headersDone) {
            res.writeHead(500, { "content-type": "text/plain" });
            res.end(`git http-backend failed (${code}): ${stderr}`);
          } else res.end();
          resolve();
        });
      });
    });
  }
}
