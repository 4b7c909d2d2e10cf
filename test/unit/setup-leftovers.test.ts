// Setup's leftovers kept out of the agent's change: each path git listed becomes a pattern that
// matches that path alone, whatever characters its name has.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { excludePattern } from "../../src/runs/steps/verify.ts";

test("each leftover is excluded exactly, and nothing else is", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), "bosun-leftovers-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync("git", ["-c", "core.excludesFile=/dev/null", ...args], { cwd: dir, encoding: "utf8" });
  git("init", "-q");
  const files = ["node_modules/x/index.js", "a*b", "weird [1].txt", "trailing ", "#hash", "!bang", "back\\slash", "src/new.js", "ab", "weird 1.txt", "node_modules.js"];
  for (const f of files) {
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await writeFile(join(dir, f), "x");
  }
  const leftovers = ["node_modules/", "a*b", "weird [1].txt", "trailing ", "#hash", "!bang", "back\\slash"];
  await writeFile(join(dir, ".git", "info", "exclude"), leftovers.map(excludePattern).join("\n") + "\n");
  const untracked = git("ls-files", "--others", "--exclude-standard", "-z").split("\0").filter(Boolean).sort();
  assert.deepEqual(untracked, ["ab", "node_modules.js", "src/new.js", "weird 1.txt"]);
});
