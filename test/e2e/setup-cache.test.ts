// The setup cache: a repository's second run restores what its first run's setup installed (the
// registry stand-in sees no second download); an agent that changes the lockfile gets a fresh
// setup for its tests; another repository with the same files never gets the first one's cache; a
// cache that cannot be restored falls back to setup, saying so; the sweep removes expired caches
// and those over the org's limit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import Docker from "dockerode";
import { readTranscript, type TranscriptEvent } from "../../src/audit/transcript.ts";
import { SetupCacheStore } from "../../src/setup-cache/cache-store.ts";
import { sweepSetupCaches } from "../../src/setup-cache/eviction.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { registryStandIn, standInHost, standInPhaseRules } from "../helpers/registry-stand-in.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const cacheEvents = (events: TranscriptEvent[]) => events.filter((e) => e.kind === "command" && e.payload["phase"] === "setup" && e.payload["cache"] !== undefined);
const setupRuns = (events: TranscriptEvent[]) => events.filter((e) => e.kind === "command" && e.payload["phase"] === "setup" && typeof e.payload["command"] === "string" && e.payload["cache"] === undefined);
/** [purpose, decision] of each cache event, in order. */
const decisions = (events: TranscriptEvent[]) => cacheEvents(events).map((e) => [e.payload["purpose"] ?? "agent", e.payload["cache"]]);

test("setup cache", async (t) => {
  const registry = await registryStandIn();
  t.after(() => registry.close());
  const w = await startBosunWorld(t);
  const p = registry.port;
  const setupCommand = `npm ci --no-audit --no-fund --registry http://${standInHost}:${p}/`;
  const files = (name: string) => ({
    "package.json": `${JSON.stringify({ name, version: "1.0.0", private: true, type: "module", dependencies: { "left-pad": "1.3.0" }, scripts: { test: "node test/add.test.js" } }, null, 2)}\n`,
    "package-lock.json": registry.lockfile(name),
    ".gitignore": "node_modules/\n",
    // The tests write into the cache's files: their write stays in their own layer.
    ".github/bosun.yml": `setup:\n  command: ${JSON.stringify(setupCommand)}\ntest:\n  command: test -f node_modules/left-pad/index.js && echo tampered >> node_modules/left-pad/index.js && npm test\n`,
  });
  const runOn = async (repo: string, body = demoIssue.body) => {
    const issue = await labelDemoIssue(w.gh, repo, { body });
    const run = await w.waitForRun({ repo: `acme/${repo}`, issue });
    assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${run.facts.testOutputTail ?? ""}`);
    return { run, events: await readTranscript(w.bosun.pool, run.id) };
  };

  await seedDemoRepo(w.gh, "cached", { files: files("cached") });
  await w.gh.createRepo("acme/.github", {
    files: {
      ".github/bosun.yml": [
        "sandbox:",
        "  phases:",
        "    setup:",
        ...standInPhaseRules(p),
        "",
      ].join("\n"),
    },
  });

  await t.test("the first run installs and saves; its tests restore; a second run downloads nothing", async () => {
    const first = await runOn("cached");
    assert.deepEqual(decisions(first.events), [["agent", "none"], ["agent", "saved"], ["tests", "restored"]]);
    assert.match(String(cacheEvents(first.events)[0]?.payload["reason"]), /this repository has no setup cache yet/);
    const saved = cacheEvents(first.events)[1]?.payload ?? {};
    assert.deepEqual(saved["key_files"], ["package-lock.json", "package.json"]);
    assert.equal(setupRuns(first.events).length, 1, "setup ran once, for the agent");
    assert.equal(registry.downloads(), 1);
    assert.ok(first.run.facts.steps?.some((s) => s.name === `Set up the tests' sandbox from the setup cache: \`${setupCommand}\` did not need to run`));
    assert.equal(first.run.facts.testExitCode, 0, "left-pad was there for the tests");
    const check = [...w.gh.repo("acme/cached").checkRuns.values()].find((c) => c.name === "bosun");
    assert.match(check?.output.summary ?? "", /Its setup came from the setup cache in [\d.]+ s \(`npm ci .*` did not need to run\)\./);

    const second = await runOn("cached");
    assert.deepEqual(decisions(second.events), [["agent", "restored"], ["tests", "restored"]]);
    const restored = cacheEvents(second.events)[0]?.payload ?? {};
    assert.equal(restored["saved_by_run"], first.run.id);
    assert.equal(restored["key"], saved["key"]);
    assert.equal(setupRuns(second.events).length, 0, "setup did not run");
    assert.equal(registry.downloads(), 1, "the registry saw no second download");
    assert.ok(second.run.facts.steps?.some((s) => s.name === `Set up the workspace from the setup cache: \`${setupCommand}\` did not need to run`));
    assert.deepEqual(cacheEvents(second.events).map((e) => e.payload["how"]), ["overlay", "overlay"]);
    const volume = (await new SetupCacheStore(w.bosun.pool).all())[0]?.volume ?? "";
    const cachedFile = execFileSync("docker", ["run", "--rm", "--network", "none", "-v", `${volume}:/c:ro`, "bosun/agent-base:latest", "cat", "/c/tree/node_modules/left-pad/index.js"], { encoding: "utf8" });
    assert.equal(cachedFile, "module.exports = (s, n) => String(s).padStart(n);\n", "what the tests wrote stayed in their own layer");
  });

  await t.test("an agent that changes the lockfile gets a fresh setup for its tests, and saves nothing", async () => {
    const lockfile = registry.lockfile("cached").split("\n");
    // The demo's fix, then a lockfile change; headers between files, so `git apply --recount`
    // knows where the first file's hunk ends.
    const demoFix = /```diff\n([\s\S]*?)```/.exec(demoIssue.body)?.[1] ?? "";
    const patch = [
      "```diff",
      "diff --git a/src/add.js b/src/add.js",
      demoFix.trimEnd(),
      "diff --git a/package-lock.json b/package-lock.json",
      "--- a/package-lock.json",
      "+++ b/package-lock.json",
      "@@ -1,4 +1,4 @@",
      ` ${lockfile[0] ?? ""}`,
      ` ${lockfile[1] ?? ""}`,
      `-${lockfile[2] ?? ""}`,
      `+${(lockfile[2] ?? "").replace("1.0.0", "1.0.1")}`,
      ` ${lockfile[3] ?? ""}`,
      "```",
      "",
    ].join("\n");
    const before = registry.downloads();
    const { events } = await runOn("cached", `The lockfile's version is behind, and add() subtracts.\n\n${patch}`);
    assert.deepEqual(decisions(events), [["agent", "restored"], ["tests", "none"]]);
    assert.match(String(cacheEvents(events)[1]?.payload["reason"]), /these files differ from the last cache's: package-lock\.json/);
    const ran = setupRuns(events);
    assert.equal(ran.length, 1);
    assert.equal(ran[0]?.payload["purpose"], "tests", "setup ran again, for the tests only");
    const check = [...w.gh.repo("acme/cached").checkRuns.values()].filter((c) => c.name === "bosun").pop();
    assert.match(check?.output.summary ?? "", /Setup `npm ci .*` ran first, in [\d.]+ s\./);
    assert.match(check?.output.text ?? "", /^Setup `npm ci .*`:\n\n```[\s\S]*\n\nTests:\n\n```/);
    assert.equal(registry.downloads(), before + 1);
    const caches = await new SetupCacheStore(w.bosun.pool).all();
    assert.equal(caches.length, 1, "a setup on the agent's commit is never saved");
  });

  await t.test("a repository with the same files does not get another's cache", async () => {
    await seedDemoRepo(w.gh, "twin", { files: files("cached") });
    const before = registry.downloads();
    const { run, events } = await runOn("twin");
    assert.deepEqual(decisions(events), [["agent", "none"], ["agent", "saved"], ["tests", "restored"]]);
    assert.match(String(cacheEvents(events)[0]?.payload["reason"]), /this repository has no setup cache yet/);
    assert.equal(registry.downloads(), before + 1, "the twin installed for itself");
    const caches = await new SetupCacheStore(w.bosun.pool).all();
    assert.deepEqual(caches.map((c) => c.repository).sort(), ["acme/cached", "acme/twin"]);
    assert.notEqual(caches[0]?.key, caches[1]?.key, "the repository is part of the key too");
    assert.equal(caches.find((c) => c.repository === "acme/twin")?.savedByRun, run.id);
  });

  await t.test("a cache that cannot be restored falls back to setup and says so", async () => {
    const store = new SetupCacheStore(w.bosun.pool);
    const twin = (await store.all()).find((c) => c.repository === "acme/twin");
    assert.ok(twin);
    // Gone behind Bosun's back (an operator's prune, a new Docker host).
    await new Docker().getVolume(twin.volume).remove({ force: true });
    const before = registry.downloads();
    const { events } = await runOn("twin");
    const failed = cacheEvents(events)[0]?.payload ?? {};
    assert.equal(failed["cache"], "restore failed");
    assert.match(String(failed["reason"]), /restoring the cache failed: the cache's files are missing \(no overlay: .*no such volume.*\); setup runs instead, and the cache is dropped$/);
    assert.deepEqual(decisions(events).slice(1), [["agent", "saved"], ["tests", "restored"]], "setup ran, was saved afresh, and the tests used it");
    assert.equal(registry.downloads(), before + 1);
  });

  await t.test("the commit's files win over the cache's", async () => {
    // The agent replaces the installed folder with a file and commits it.
    const agentCommand = "rm -rf node_modules && node /bosun/agents/patch-agent.mjs";
    const repoFiles = files("breaker");
    const testCommand = "test -f node_modules && ! test -d node_modules && npm test";
    await seedDemoRepo(w.gh, "breaker", { files: { ...repoFiles, ".gitignore": "", ".github/bosun.yml": `setup:\n  command: ${JSON.stringify(setupCommand)}\nagent:\n  command: ${JSON.stringify(agentCommand)}\ntest:\n  command: ${JSON.stringify(testCommand)}\n` } });
    const body = demoIssue.body.replace("```\n", ["diff --git a/node_modules b/node_modules", "new file mode 100644", "--- /dev/null", "+++ b/node_modules", "@@ -0,0 +1 @@", "+not a folder", "```", ""].join("\n"));
    const issue = await labelDemoIssue(w.gh, "breaker", { body });
    const run = await w.waitForRun({ repo: "acme/breaker", issue });
    const events = await readTranscript(w.bosun.pool, run.id);
    assert.deepEqual(decisions(events), [["agent", "none"], ["agent", "saved"], ["tests", "restored"]], JSON.stringify(cacheEvents(events).map((e) => e.payload)));
    assert.equal(cacheEvents(events)[2]?.payload["how"], "overlay");
    assert.equal(run.facts.testExitCode, 0, `the tests saw the commit's file, not the cache's folder: ${run.facts.testOutputTail ?? ""}`);
    const cache = (await new SetupCacheStore(w.bosun.pool).all()).find((c) => c.repository === "acme/breaker");
    assert.equal(cache?.savedByRun, run.id, "the cache stays");
  });

  await t.test("the sweep removes expired caches and those over the org's limit", async () => {
    const store = new SetupCacheStore(w.bosun.pool);
    const docker = new Docker();
    const volumeExists = (name: string) => docker.getVolume(name).inspect().then(() => true, () => false);
    const [expiring, ...rest] = await store.all();
    assert.ok(expiring && rest.length >= 1);
    await w.bosun.pool.query("UPDATE setup_caches SET expires_at = now() - interval '1 second' WHERE id = $1", [expiring.id]);
    const expired = await sweepSetupCaches({ store, sandbox: w.bosun.sandbox, log: w.bosun.log });
    assert.deepEqual(expired, { expired: 1, overLimit: 0, unfinished: 0 });
    assert.equal(await volumeExists(expiring.volume), false);
    for (const c of rest) assert.equal(await volumeExists(c.volume), true);
    // The org's limit went down below what one cache takes.
    await w.bosun.pool.query("UPDATE setup_caches SET org_limit_bytes = 1");
    const over = await sweepSetupCaches({ store, sandbox: w.bosun.sandbox, log: w.bosun.log });
    assert.deepEqual(over, { expired: 0, overLimit: rest.length, unfinished: 0 });
    for (const c of rest) assert.equal(await volumeExists(c.volume), false);
    assert.deepEqual(await store.all(), []);
  });
});

test("setup cache under gVisor: saved, then restored", async (t) => {
  const registry = await registryStandIn();
  t.after(() => registry.close());
  const w = await startBosunWorld(t, { BOSUN_RUNTIME: "runsc" });
  const setupCommand = `npm ci --no-audit --no-fund --registry http://${standInHost}:${registry.port}/`;
  await seedDemoRepo(w.gh, "gvisor", {
    files: {
      "package.json": `${JSON.stringify({ name: "gvisor", version: "1.0.0", private: true, type: "module", dependencies: { "left-pad": "1.3.0" }, scripts: { test: "node test/add.test.js" } }, null, 2)}\n`,
      "package-lock.json": registry.lockfile("gvisor"),
      ".gitignore": "node_modules/\n",
      ".github/bosun.yml": `setup:\n  command: ${JSON.stringify(setupCommand)}\ntest:\n  command: test -f node_modules/left-pad/index.js && npm test\n`,
    },
  });
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": ["sandbox:", "  phases:", "    setup:", ...standInPhaseRules(registry.port), ""].join("\n") } });
  for (const expected of [[["agent", "none"], ["agent", "saved"], ["tests", "restored"]], [["agent", "restored"], ["tests", "restored"]]]) {
    const issue = await labelDemoIssue(w.gh, "gvisor");
    const run = await w.waitForRun({ repo: "acme/gvisor", issue });
    assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${run.facts.testOutputTail ?? ""}`);
    const events = await readTranscript(w.bosun.pool, run.id);
    assert.deepEqual(decisions(events), expected, JSON.stringify(cacheEvents(events).map((e) => e.payload)));
  }
  assert.equal(registry.downloads(), 1);
});
