// The sandbox under both runtimes: the agent container's settings as `docker inspect` reports
// them, and a hostile agent whose every attempt to get out fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { docker, waitForContainer } from "../helpers/docker.ts";
import { seedDemoRepo } from "../helpers/seed.ts";


for (const runtime of ["runc", "runsc"] as const) {
  test(`under ${runtime}: locked-down settings, and a hostile agent gets nowhere`, async (t) => {
    const agentsDir = await mkdtemp(join(tmpdir(), "bosun-agents-"));
    t.after(() => rm(agentsDir, { recursive: true, force: true }));
    await copyFile("agents/patch-agent.mjs", join(agentsDir, "patch-agent.mjs"));
    await copyFile("test/agents/hostile-agent.mjs", join(agentsDir, "hostile-agent.mjs"));
    const w = await startBosunWorld(t, {
      BOSUN_RUNTIME: runtime, BOSUN_SANDBOX_MEMORY_MB: "256", BOSUN_SANDBOX_PIDS: "128", BOSUN_SANDBOX_CPUS: "0.5",
    }, { agentsDir });
    const bosunPort = new URL(w.bosun.url).port;
    const ghPort = new URL(w.gh.url).port;
    await seedDemoRepo(w.gh, "sandboxed", {
      files: { ".github/bosun.yml": `agent:\n  command: HOSTILE_PORTS=${bosunPort},${ghPort} node /bosun/agents/hostile-agent.mjs\n  timeout_minutes: 1.5\n` },
    });
    const maya = w.gh.as("maya");
    const issue = await maya.rest.issues.create({ owner: "acme", repo: "sandboxed", title: demoIssue.title, body: demoIssue.body });
    await maya.rest.issues.addLabels({ owner: "acme", repo: "sandboxed", issue_number: issue.data.number, labels: ["bosun"] });

    const running = await w.waitForRun({ repo: "acme/sandboxed", issue: issue.data.number, until: (r) => r.state === "running" });
    const info = await waitForContainer(running.id, "agent");
    const hc = info.HostConfig;
    assert.equal(hc.Runtime, runtime);
    assert.equal(info.Config.User, "1000:1000", "non-root");
    assert.deepEqual(hc.CapDrop, ["ALL"], "all capabilities dropped");
    assert.ok(!(hc.CapAdd as string[] | null)?.length, "no capability added");
    assert.deepEqual(hc.SecurityOpt, ["no-new-privileges"]);
    assert.equal(hc.ReadonlyRootfs, true, "read-only root filesystem");
    assert.equal(hc.Privileged, false);
    assert.equal(hc.NetworkMode, "none");
    assert.deepEqual(Object.keys(info.NetworkSettings.Networks), ["none"]);
    assert.deepEqual(Object.keys(hc.Tmpfs ?? {}).sort(), ["/home/agent", "/tmp"]);
    assert.equal(hc.Memory, 256 * 1024 * 1024);
    assert.equal(hc.NanoCpus, 500_000_000);
    assert.equal(hc.PidsLimit, 128);
    const mounts = info.Mounts.map((m) => [m.Type, m.Destination, m.RW]);
    assert.deepEqual(mounts.sort(), [["volume", "/bosun", true], ["volume", "/workspace", true]], "only the run's own volumes");
    assert.ok(info.Mounts.every((m) => m.Name?.startsWith(`bosun-${running.id}-`)));
    assert.equal(info.Config.Labels["bosun.run"], running.id);

    const run = await w.waitForRun({ repo: "acme/sandboxed", issue: issue.data.number, timeoutMs: 300_000 });
    assert.equal(run.state, "failed");
    const progress = [...w.gh.repo("acme/sandboxed").comments.values()].find((c) => c.body.includes("bosun:progress"));
    // runc: the limits stop each attempt and the agent sleeps until the timeout stops it.
    // runsc: gVisor may end the whole sandbox when a limit is exhausted; the run says so either way.
    assert.match(progress?.body ?? "", runtime === "runc" ? /The agent did not finish within 1\.5 minutes and was stopped\./ : /The agent did not finish within 1\.5 minutes and was stopped\.|The agent exited with code \d+\./);

    const attempts = (await readTranscript(w.bosun.pool, run.id)).filter((e) => e.kind === "tool_result" && e.payload["tool"] === "escape");
    const names = attempts.map((e) => String(e.payload["attempt"]));
    for (const expected of ["docker socket /var/run/docker.sock", "write /etc/bosun-was-here", "running as root", "effective capabilities",
      "root over the container's files through a user namespace", "secrets in the environment", "host paths mounted", "network interfaces besides loopback",
      "routes in the routing table", "resolve host.docker.internal", `tcp 127.0.0.1:${bosunPort}`, `tcp 127.0.0.1:${ghPort}`, "tcp 127.0.0.1:5432",
      "fork bomb (5000 processes)", ...(runtime === "runc" ? ["eat memory", "outlive the timeout"] : [])]) {
      assert.ok(names.includes(expected), `the agent tried: ${expected} (tried: ${names.join("; ")})`);
    }
    const escaped = attempts.filter((e) => e.payload["escaped"] !== false);
    assert.deepEqual(escaped.map((e) => `${String(e.payload["attempt"])}: ${String(e.payload["detail"])}`), [], "every attempt failed");
    const left = await docker.listContainers({ all: true, filters: { label: [`bosun.run=${run.id}`] } });
    assert.equal(left.length, 0);
  });
}
