// The setup cache's key: which files count, and that each input changes it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { cacheKey, changedKeyFiles, keyFilesAt } from "../../src/setup-cache/cache-key.ts";

async function repoWith(files: Record<string, string>): Promise<{ dir: string; commit: string }> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-cache-key-"));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t" } }).trim();
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "files");
  return { dir, commit: git("rev-parse", "HEAD") };
}

test("lockfiles and manifests count wherever they are; sources do not, unless the repository names them", async (t) => {
  const { dir, commit } = await repoWith({
    "package.json": "{}", "package-lock.json": "{}", "web/yarn.lock": "", "api/requirements-dev.txt": "", "go.sum": "", "crates/x/Cargo.lock": "",
    "src/index.js": "", "README.md": "", "my.gemspec": "", "scripts/install.sh": "", "requirements/base.txt": "", "Makefile": "", "patches/x.patch": "",
  });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const byDefault = (await keyFilesAt(dir, commit, [])).map(([p]) => p);
  assert.deepEqual(byDefault, ["api/requirements-dev.txt", "crates/x/Cargo.lock", "go.sum", "my.gemspec", "package-lock.json", "package.json", "patches/x.patch", "requirements/base.txt", "web/yarn.lock"]);
  const named = (await keyFilesAt(dir, commit, ["src/**"])).map(([p]) => p);
  assert.ok(named.includes("src/index.js"), "a glob the repository names");
  assert.ok(!named.includes("scripts/install.sh"));
  const inCommand = (await keyFilesAt(dir, commit, [], "./scripts/install.sh && make deps")).map(([p]) => p);
  assert.ok(inCommand.includes("scripts/install.sh"), "a script the command runs");
  assert.ok(inCommand.includes("Makefile"), "the Makefile `make` reads");
});

test("the key changes with the repository, the image, the command and any key file's content", () => {
  const base = { repoId: 1, imageId: "sha256:a", command: "npm ci", files: [["package-lock.json", "b1"], ["package.json", "b2"]] as [string, string][] };
  const key = cacheKey(base).key;
  assert.equal(cacheKey({ ...base }).key, key, "the same inputs give the same key");
  assert.notEqual(cacheKey({ ...base, repoId: 2 }).key, key);
  assert.notEqual(cacheKey({ ...base, imageId: "sha256:b" }).key, key);
  assert.notEqual(cacheKey({ ...base, command: "npm install" }).key, key);
  assert.notEqual(cacheKey({ ...base, files: [["package-lock.json", "b9"], ["package.json", "b2"]] }).key, key);
  assert.notEqual(cacheKey({ ...base, files: [["package.json", "b2"]] }).key, key, "a key file removed");
  assert.notEqual(cacheKey({ ...base, environment: { hosts: ["registry.npmjs.org"] } }).key, cacheKey({ ...base, environment: { hosts: ["npm.mirror.test"] } }).key, "what setup may reach");
  assert.deepEqual(changedKeyFiles(base, { ...base, files: [["package-lock.json", "b9"], ["package.json", "b2"], ["yarn.lock", "b3"]] }), ["package-lock.json", "yarn.lock"]);
});
