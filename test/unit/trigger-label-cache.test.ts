// The trigger labels kept between labels: one read for a burst, a change to the file counted within
// seconds, an unreachable GitHub not asked for every delivery.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { Logger } from "pino";
import { TriggerLabelCache, type ReadOptions, type TriggerLabels } from "../../src/config/trigger-labels.ts";

function world(first: TriggerLabels) {
  let now = 0;
  let labels = first;
  let failing = false;
  const reads: number[] = [];
  const warnings: string[] = [];
  const cache = new TriggerLabelCache({
    now: () => now,
    read: async () => {
      reads.push(now);
      await new Promise((r) => setTimeout(r, 5));
      if (failing) throw new Error("GitHub answered 502");
      return labels;
    },
  });
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
  const o = (repoId: number): ReadOptions => ({ app: null as never, apiUrl: "http://127.0.0.1:1", log, installationId: 1, repoId, owner: "acme", repo: `r${repoId}`, defaultBranch: "main" });
  return {
    cache, reads, warnings, o,
    at: (ms: number) => { now = ms; },
    rename: (t: TriggerLabels) => { labels = t; },
    fail: (f: boolean) => { failing = f; },
  };
}

test("a burst of labels in one repository costs one read", async () => {
  const w = world({ pull_request: "bosun", plan: "bosun:plan" });
  const modes = await Promise.all(Array.from({ length: 50 }, (_, i) => w.cache.modeOf(i % 2 ? "bosun" : "bug", w.o(1))));
  assert.deepEqual(new Set(modes), new Set(["pull_request", null]));
  assert.equal(w.reads.length, 1);
  // Another repository has its own file.
  assert.equal(await w.cache.modeOf("bosun:plan", w.o(2)), "plan");
  assert.equal(w.reads.length, 2);
});

test("a change to the file's trigger labels counts within 5 s", async () => {
  const w = world({ pull_request: "bosun", plan: "bosun:plan" });
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), "pull_request");
  // The labels swapped: within 5 s the last answer stands, after that the file's new one.
  w.rename({ pull_request: "bosun:plan", plan: "bosun" });
  w.at(4_999);
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), "pull_request");
  assert.equal(w.reads.length, 1);
  w.at(5_000);
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), "plan");
  assert.equal(await w.cache.modeOf("bosun:plan", w.o(1)), "pull_request");
  assert.equal(w.reads.length, 2);
});

test("a failed read answers with the last labels read, or the defaults, and is not repeated for 5 s", async () => {
  const w = world({ pull_request: "agent", plan: "agent:plan" });
  w.fail(true);
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), "pull_request", "no answer yet: the defaults");
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), "pull_request");
  assert.equal(w.reads.length, 1, "GitHub is not asked again at once");
  w.fail(false);
  w.at(6_000);
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), null);
  assert.equal(await w.cache.modeOf("agent", w.o(1)), "pull_request");
  w.fail(true);
  w.at(12_000);
  assert.equal(await w.cache.modeOf("agent", w.o(1)), "pull_request", "the last labels read hold while GitHub cannot be read");
  assert.equal(w.reads.length, 3);
  assert.deepEqual(w.warnings, [
    "could not read the repository's trigger labels; the defaults hold for now",
    "could not read the repository's trigger labels; the last ones read hold for now",
  ]);
});
