// The leak check over whole files, and Bosun's git ignoring a repository's .gitattributes, with real git.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redactor } from "../../src/audit/redactor.ts";
import { commitIndex, neutralizeAttributes, runGit } from "../../src/github/git.ts";
import { fileHoldsSecret, secretInChange } from "../../src/runs/steps/scan-change.ts";

const secret = "scan-5ecret-0a1b2c3d4e";
const author = { name: "Bosun", email: "bosun@example.invalid" };

async function repo(t: { after(f: () => Promise<void>): void }): Promise<{ dir: string; base: string }> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-scan-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await runGit(dir, ["init", "--quiet"]);
  await writeFile(join(dir, "README.md"), "# hello\n");
  await writeFile(join(dir, "data.txt"), "one\n");
  await runGit(dir, ["add", "--all"]);
  const base = await commitIndex(dir, { message: "base", author, date: "2025-01-01T00:00:00Z" });
  return { dir, base };
}

test("with neutral attributes, *.md -diff and binary do not hide a text change", async (t) => {
  const { dir, base } = await repo(t);
  await writeFile(join(dir, ".gitattributes"), "*.md -diff\n*.txt binary\n");
  await writeFile(join(dir, "README.md"), "# hello\nhidden line\n");
  await writeFile(join(dir, "data.txt"), "one\ntwo\n");
  await runGit(dir, ["add", "--all"]);
  const before = await runGit(dir, ["diff", "--cached", "--binary", base]);
  assert.doesNotMatch(before, /^\+hidden line$/m, "the repository's attributes hide it (the attack)");
  await neutralizeAttributes(dir);
  const after = await runGit(dir, ["diff", "--cached", "--binary", base]);
  assert.match(after, /^\+hidden line$/m);
  assert.match(after, /^\+two$/m);
  assert.doesNotMatch(after, /GIT binary patch|Binary files/);
});

test("changed files are searched whole: binary bytes, encodings, symlink targets, names; deleted files are not", async (t) => {
  const r = new Redactor();
  r.add(secret);
  const cases: [string, (dir: string) => Promise<void>][] = [
    ["blob.bin", (dir) => writeFile(join(dir, "blob.bin"), Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(Buffer.from(`\u0001${secret}`).toString("base64")), Buffer.from([0])]))],
    ["hex.txt", (dir) => writeFile(join(dir, "hex.txt"), Buffer.from(secret).toString("hex").toUpperCase())],
    ["link", (dir) => symlink(secret, join(dir, "link"))],
    [Buffer.from(secret).toString("base64url"), (dir) => writeFile(join(dir, Buffer.from(secret).toString("base64url")), "x")],
  ];
  for (const [name, write] of cases) {
    const { dir, base } = await repo(t);
    await neutralizeAttributes(dir);
    await write(dir);
    await runGit(dir, ["add", "--all"]);
    assert.equal(await secretInChange(r, dir, base), name);
  }
  const { dir, base } = await repo(t);
  await writeFile(join(dir, "clean.txt"), "nothing here\n");
  await runGit(dir, ["rm", "--quiet", "data.txt"]);
  await runGit(dir, ["add", "--all"]);
  assert.equal(await secretInChange(r, dir, base), null);
});

test("a secret across the boundary of two chunks of a large file is found", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bosun-scan-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = new Redactor();
  r.add(secret);
  const encoded = Buffer.from(secret).toString("base64");
  const chunk = 8 * 1024 * 1024;
  const big = Buffer.alloc(chunk + 4096, 0);
  big.write(encoded, chunk - 10, "latin1");
  await writeFile(join(dir, "big.bin"), big);
  assert.ok(await fileHoldsSecret(r, join(dir, "big.bin")));
  await writeFile(join(dir, "clean.bin"), Buffer.alloc(chunk + 4096, 7));
  assert.ok(!(await fileHoldsSecret(r, join(dir, "clean.bin"))));
});
