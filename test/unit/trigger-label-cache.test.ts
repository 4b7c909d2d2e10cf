// The trigger labels kept between labels: one read for a burst, a renamed trigger honoured at once.
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

test("a renamed trigger works at once; a removed one is honoured for at most a minute", async () => {
  const w = world({ pull_request: "bosun", plan: "bosun:plan" });
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), "pull_request");
  w.rename({ pull_request: "agent", plan: "agent:plan" });
  // Within 5 s the kept answer stands for every label.
  w.at(4_000);
  assert.equal(await w.cache.modeOf("agent", w.o(1)), null);
  assert.equal(w.reads.length, 1);
  // Later, a label the kept answer does not name is read afresh.
  w.at(6_000);
  assert.equal(await w.cache.modeOf("agent", w.o(1)), "pull_request");
  assert.equal(w.reads.length, 2);
  // The old trigger is no longer named by the fresh answer.
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), null);
  w.rename({ pull_request: "bosun", plan: "bosun:plan" });
  w.at(70_000);
  // Past a minute even a named label is read afresh.
  assert.equal(await w.cache.modeOf("agent", w.o(1)), null);
  assert.equal(w.reads.length, 3);
});

test("a failed read gives the defaults for this label and is not kept", async () => {
  const w = world({ pull_request: "agent", plan: "agent:plan" });
  w.fail(true);
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), "pull_request");
  assert.deepEqual(w.warnings, ["could not read the repository's trigger labels; the defaults hold for this label"]);
  w.fail(false);
  assert.equal(await w.cache.modeOf("bosun", w.o(1)), null);
  assert.equal(w.reads.length, 2);
});
