// Docker gone: unreachable from the start, or lost mid-run (a proxy in front of the engine is cut
// while the engine and the agent carry on). Per the org's policy the run waits, says so, and
// resumes when Docker is back (taking the agent over), or fails at once with words an operator can
// act on; nothing is left behind once Docker is back, and no token lives on.
import { test } from "node:test";
import assert from "node:assert/strict";
import Docker from "dockerode";
import { readTranscript } from "../../src/audit/transcript.ts";
import { DockerSandbox } from "../../src/sandbox/docker-sandbox.ts";
import { startBosunWorld, type BosunWorld } from "../helpers/bosun-world.ts";
import { docker, leftovers, startDockerProxy } from "../helpers/docker.ts";
import { until } from "../helpers/bosun-process.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const say = (text: string): string => `echo '${JSON.stringify({ type: "model_message", text })}'`;
const slowAgent = [say("before the outage"), "sleep 15", say("after the outage"), "node /bosun/agents/patch-agent.mjs"].join("; ");


const progressOf = (w: BosunWorld, repo: string): string => [...w.gh.repo(`acme/${repo}`).comments.values()].find((c) => c.body.includes("bosun:progress"))?.body ?? "";

test("Docker unreachable from the start: the run fails clearly (policy: do not wait)", async (t) => {
  const unreachable = new DockerSandbox(new Docker({ socketPath: "/nonexistent/docker.sock" }));
  const w = await startBosunWorld(t, {}, { sandbox: unreachable });
  await seedDemoRepo(w.gh, "nodocker");
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  docker_outage_wait_minutes: 0\n" } });
  const run = await w.waitForRun({ repo: "acme/nodocker", issue: await labelDemoIssue(w.gh, "nodocker") });
  assert.equal(run.state, "failed");
  assert.match(progressOf(w, "nodocker"), /Bosun lost contact with its Docker engine, so the run stopped \(the org's policy does not wait for Docker: `sandbox\.docker_outage_wait_minutes` is 0\)\. Comment `\/bosun retry` once Docker is back\./);
  assert.match(progressOf(w, "nodocker"), /Docker is not reachable \(.*\): connect ENOENT \/nonexistent\/docker\.sock/);
  assert.ok(w.gh.installationTokens().every((tk) => tk.revokedAt));
});

test("Docker lost mid-run", async (t) => {
  const proxy = await startDockerProxy();
  t.after(() => proxy.close());
  const w = await startBosunWorld(t, { BOSUN_SWEEP_SECONDS: "1" }, { sandbox: new DockerSandbox(new Docker({ socketPath: proxy.socketPath })) });
  await seedDemoRepo(w.gh, "outage-wait", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(slowAgent)}\ntest:\n  command: npm test\n` } });
  await seedDemoRepo(w.gh, "outage-fail", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(slowAgent)}\n` } });
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  docker_outage_wait_minutes: 2\nrepositories:\n  - match: outage-fail\n    sandbox:\n      docker_outage_wait_minutes: 0\n" } });

  await t.test("the run waits, says so, and resumes when Docker is back, taking the agent over", async () => {
    const issue = await labelDemoIssue(w.gh, "outage-wait");
    const running = await w.waitForRun({ repo: "acme/outage-wait", issue, until: (r) => r.state === "running" });
    await until("the agent's first words", async () => (await readTranscript(w.bosun.pool, running.id)).some((e) => e.payload["text"] === "before the outage"));
    const [agent] = await docker.listContainers({ filters: { label: [`bosun.run=${running.id}`, "bosun.role=agent"] } });
    assert.ok(agent);

    await proxy.cut();
    await until("the issue to say the run waits for Docker", () => Promise.resolve(/\*\*Waiting:\*\* Bosun lost contact with its Docker engine at \d\d:\d\d UTC; the run resumes when it is back, waiting up to 2 minutes \(`sandbox\.docker_outage_wait_minutes`\)\./.test(progressOf(w, "outage-wait"))), 30_000, 100);
    assert.equal((await w.bosun.store.get(running.id))?.state, "running", "the run is still in its step");
    await new Promise((r) => setTimeout(r, 3000));
    await proxy.restore();

    const done = await w.waitForRun({ repo: "acme/outage-wait", issue });
    assert.equal(done.state, "succeeded", `${done.outcome ?? ""} ${done.lastError ?? ""}`);
    assert.equal(done.facts.adoptedAgent?.containerId, agent.Id, "the agent that kept working was taken over");
    const events = await readTranscript(w.bosun.pool, done.id);
    assert.ok(events.some((e) => e.kind === "error" && e.payload["message"] === "lost contact with the Docker engine; the run waits for it"));
    assert.ok(events.some((e) => e.kind === "error" && e.payload["message"] === "Docker is reachable again; the run resumes"));
    assert.equal(events.filter((e) => e.kind === "model_message" && e.payload["text"] === "before the outage").length, 1);
    assert.doesNotMatch(progressOf(w, "outage-wait"), /Waiting:/);
    assert.deepEqual(await leftovers(done.id), { containers: 0, volumes: 0 });
  });

  await t.test("with a policy that does not wait, the run fails at once, and nothing is left once Docker is back", async () => {
    const issue = await labelDemoIssue(w.gh, "outage-fail");
    const running = await w.waitForRun({ repo: "acme/outage-fail", issue, until: (r) => r.state === "running" });
    await until("the agent's first words", async () => (await readTranscript(w.bosun.pool, running.id)).some((e) => e.payload["text"] === "before the outage"));
    await proxy.cut();
    const done = await w.waitForRun({ repo: "acme/outage-fail", issue });
    assert.equal(done.state, "failed");
    assert.match(progressOf(w, "outage-fail"), /Bosun lost contact with its Docker engine, so the run stopped/);
    // The agent, and the helper measuring its disk, both outlived it: Bosun could not reach them.
    const left = await docker.listContainers({ filters: { label: [`bosun.run=${done.id}`] } });
    assert.deepEqual(left.map((c) => c.Labels["bosun.role"]).sort(), ["agent", "disk"], "the agent outlived the lost connection");
    await proxy.restore();
    await until("the sweep to remove what the run left", async () => {
      const left = await leftovers(done.id);
      return left.containers === 0 && left.volumes === 0;
    }, 30_000);
    assert.ok(w.gh.installationTokens().every((tk) => tk.revokedAt), "no token lives on");
  });
});
