// A sandbox that fills its disk: an agent writing /workspace fast, and a setup that writes past
// the limit in one go. Each is stopped (or judged when it ended) at the org's
// `sandbox.limits.disk_mb`, and the run fails with a message naming the limit in the progress
// comment. Writes are bounded (1 GB at most) so a broken watch cannot fill the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../../src/audit/transcript.ts";
import { startBosunWorld, type BosunWorld } from "../../helpers/bosun-world.ts";
import { docker, leftovers, waitForContainer } from "../../helpers/docker.ts";
import { labelDemoIssue, seedDemoRepo } from "../../helpers/seed.ts";

const orgPolicy = "sandbox:\n  limits:\n    disk_mb: 100\n";
// 40 × 25 MB, a little apart: still writing when the first measurement comes.
const filler = "for i in $(seq 1 40); do dd if=/dev/zero of=/workspace/fill-$i bs=1M count=25 status=none; sleep 0.1; done; echo wrote-it-all";

function progressComment(w: BosunWorld, repo: string, issue: number): string {
  return [...w.gh.repo(`acme/${repo}`).comments.values()].find((c) => c.issueNumber === issue && c.user === "bosun[bot]")?.body ?? "";
}

for (const runtime of ["runc", "runsc"] as const) {
  test(`under ${runtime}: an agent filling /workspace is stopped at the disk limit, and the run fails saying so`, async (t) => {
    const w = await startBosunWorld(t, { BOSUN_RUNTIME: runtime, BOSUN_SANDBOX_DISK_MB: "512" });
    await seedDemoRepo(w.gh, "filler", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(filler)}\n` } });
    await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": orgPolicy } });
    const issue = await labelDemoIssue(w.gh, "filler");
    const run = await w.waitForRun({ repo: "acme/filler", issue });
    assert.equal(run.state, "failed", run.outcome ?? "");
    const comment = progressComment(w, "filler", issue);
    assert.match(comment, /The agent wrote more than 100 MB to \/workspace \(\d+ MB when it was stopped; the limit is `sandbox\.limits\.disk_mb`, 100 MB, from acme\/\.github: \.github\/bosun\.yml\) and was stopped\./);

    const events = await readTranscript(w.bosun.pool, run.id);
    const ended = events.find((e) => e.kind === "command" && e.payload["phase"] === "agent" && "disk_bytes" in e.payload);
    assert.ok(ended, "the transcript records the disk stop");
    const bytes = Number(ended.payload["disk_bytes"]);
    assert.ok(bytes > 100 * 1024 ** 2 && bytes < 1000 * 1024 ** 2, `stopped past the limit and before it wrote it all: ${bytes}`);
    assert.doesNotMatch(String(ended.payload["output_tail"]), /wrote-it-all/);
    assert.notEqual(ended.payload["exit_code"], 0);
    console.log(`# ${runtime}: stopped with ${Math.round(bytes / 1024 ** 2)} MB in /workspace (limit 100 MB)`);
    assert.deepEqual(await leftovers(run.id), { containers: 0, volumes: 0 }, "the run's containers, the measuring helper and volumes are gone");
  });
}

test("under runc: a setup that writes past the limit fails the run before the agent starts", async (t) => {
  const w = await startBosunWorld(t);
  const setup = "dd if=/dev/zero of=/workspace/blob bs=1M count=300 status=none";
  await seedDemoRepo(w.gh, "fat-setup", { files: { ".github/bosun.yml": `setup:\n  command: ${JSON.stringify(setup)}\n` } });
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": orgPolicy } });
  const issue = await labelDemoIssue(w.gh, "fat-setup");
  const run = await w.waitForRun({ repo: "acme/fat-setup", issue });
  assert.equal(run.state, "failed", run.outcome ?? "");
  assert.match(progressComment(w, "fat-setup", issue), /The setup command `dd if=\/dev\/zero of=\/workspace\/blob bs=1M count=300 status=none` wrote more than 100 MB to \/workspace \(\d+ MB when it was stopped; the limit is `sandbox\.limits\.disk_mb`, 100 MB, from acme\/\.github: \.github\/bosun\.yml\) and was stopped, so the agent did not start\./);
  const events = await readTranscript(w.bosun.pool, run.id);
  assert.ok(!events.some((e) => e.kind === "command" && e.payload["phase"] === "agent"), "no agent ran");
  const setupEnd = events.find((e) => e.kind === "command" && e.payload["phase"] === "setup" && "exit_code" in e.payload);
  // Killed mid-write, or (a writer faster than the first measurement) judged by the measurement after it exited 0.
  assert.ok(Number(setupEnd?.payload["disk_bytes"]) > 100 * 1024 ** 2, JSON.stringify(setupEnd?.payload));
});

test("under runc: a sandbox whose disk can no longer be measured is stopped, saying so", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "unwatched", { files: { ".github/bosun.yml": "agent:\n  command: sleep 60\n" } });
  const issue = await labelDemoIssue(w.gh, "unwatched");
  const running = await w.waitForRun({ repo: "acme/unwatched", issue, until: (r) => r.state === "running" });
  const helper = await waitForContainer(running.id, "disk");
  await docker.getContainer(helper.Id).kill();
  const run = await w.waitForRun({ repo: "acme/unwatched", issue, timeoutMs: 30_000 });
  assert.equal(run.state, "failed", run.outcome ?? "");
  assert.match(progressComment(w, "unwatched", issue), /The agent was stopped because its disk use could no longer be measured \(the measuring helper stopped; the limit is `sandbox\.limits\.disk_mb`, 10 GiB, from the operator's BOSUN_SANDBOX_DISK_MB\)\./);
});
