// The forwarder inside an `allowlist` sandbox carries hundreds of connections open at once, the way
// npm 9 holds a tunnel per request during an install, within a process limit smaller than the
// number of connections. The target is an echo server on this machine's loopback, reached through
// the egress proxy by a pinned name; nothing leaves the machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DockerSandbox } from "../../src/sandbox/docker-sandbox.ts";
import type { SandboxRuntime } from "../../src/sandbox/sandbox.ts";
import { forwarderEnv, forwarderScript } from "../../src/sandbox/egress/forwarder.ts";
import { startEgressProxy } from "../../src/sandbox/egress/proxy.ts";

const image = "bosun/agent-base:latest";
const connections = 320;
const pids = 128;

/** Opens `n` CONNECT tunnels through 127.0.0.1:3128 at once, holds them all, then echoes a line through each. */
const client = (port: number, n: number): string => `
const net = require("net");
const tunnels = [];
const errors = {};
function open(i) {
  return new Promise((resolve) => {
    const s = net.connect(3128, "127.0.0.1");
    let head = "";
    const fail = (e) => { errors[e.code || e.message] = (errors[e.code || e.message] || 0) + 1; s.destroy(); resolve(null); };
    s.on("error", fail);
    s.on("connect", () => s.write("CONNECT echo.bosun.test:${port} HTTP/1.1\\r\\nHost: echo.bosun.test:${port}\\r\\n\\r\\n"));
    const onData = (d) => {
      head += d;
      if (!head.includes("\\r\\n\\r\\n")) return;
      s.removeListener("data", onData);
      if (!head.startsWith("HTTP/1.1 200")) return fail(new Error(head.split("\\r\\n")[0]));
      resolve(s);
    };
    s.on("data", onData);
  });
}
function echo(s, i) {
  return new Promise((resolve) => {
    let got = "";
    s.on("data", (d) => { got += d; if (got.endsWith("\\n")) { s.end(); resolve(got === "ping " + i + "\\n"); } });
    s.on("error", () => resolve(false));
    s.write("ping " + i + "\\n");
  });
}
(async () => {
  const opened = await Promise.all(Array.from({ length: ${n} }, (_, i) => open(i)));
  const held = opened.filter(Boolean).length;
  const echoed = (await Promise.all(opened.map((s, i) => (s ? echo(s, i) : false)))).filter(Boolean).length;
  for (const s of opened) if (s) s.destroy();
  // One more, after the burst: is the listener still there?
  const next = await new Promise((resolve) => {
    const s = net.connect(3128, "127.0.0.1");
    s.on("connect", () => { s.destroy(); resolve("connected"); });
    s.on("error", (e) => resolve(e.code || e.message));
  });
  console.log("RESULT " + JSON.stringify({ held, echoed, errors, next }));
})();
`;

async function throughForwarder(t: { after(fn: () => Promise<void>): void }, runtime: SandboxRuntime, script: string) {
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  const port = (echo.address() as net.AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), "bosun-forwarder-"));
  await chmod(dir, 0o755);
  const proxy = await startEgressProxy({
    socketPath: join(dir, "sock"),
    rule: { hosts: [`echo.bosun.test:${port}`], presets: [], addresses: { "echo.bosun.test": "127.0.0.1" } },
  });
  const sandbox = new DockerSandbox();
  const runId = `forwarder-${process.pid}-${runtime}-${Date.now()}`;
  t.after(async () => {
    await proxy.close();
    echo.close();
    await sandbox.cleanup(runId);
    await rm(dir, { recursive: true, force: true });
  });
  const outcome = await sandbox.runContainer({
    runId, role: "setup", attempt: 0, image, runtime, volumes: {}, timeoutMs: 120_000,
    command: script,
    env: { ...forwarderEnv, BOSUN_PHASE_COMMAND: `node -e '${client(port, connections).replaceAll("'", "'\\''")}'` },
    binds: [`${dir}:/bosun/egress:ro`],
    limits: { memoryBytes: 1024 ** 3, nanoCpus: 1_000_000_000, pids },
    captureStdoutBytes: 1024 * 1024,
  });
  const line = (outcome.stdout ?? "").split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, `the client reported (exit ${outcome.exitCode}): ${outcome.outputTail}`);
  const result = JSON.parse(line.slice("RESULT ".length)) as { held: number; echoed: number; errors: Record<string, number>; next: string };
  const tunnels = proxy.events().filter((e) => e.method === "CONNECT" && e.status === 200).length;
  return { ...result, tunnels };
}

for (const runtime of ["runc", "runsc"] as const) {
  test(`under ${runtime}: ${connections} tunnels open at once through the forwarder, with a process limit of ${pids}`, async (t) => {
    const got = await throughForwarder(t, runtime, forwarderScript({ pids }));
    assert.deepEqual(got, { held: connections, echoed: connections, errors: {}, next: "connected", tunnels: connections });
  });
}

test(`under runc: the socat forwarder it replaces loses its listener at the process limit (then ECONNREFUSED, as in real installs)`, async (t) => {
  const socatPerConnection = [
    "socat TCP-LISTEN:3128,bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:/bosun/egress/sock 2>/dev/null &",
    "i=0; while [ $i -lt 50 ] && ! socat -u /dev/null TCP:127.0.0.1:3128 2>/dev/null; do sleep 0.1; i=$((i+1)); done",
    'sh -c "$BOSUN_PHASE_COMMAND"',
  ].join("\n");
  const got = await throughForwarder(t, "runc", socatPerConnection);
  // The burst: those accepted before fork() failed work, the rest (already queued) are reset.
  assert.ok(got.held < connections && got.held <= pids, JSON.stringify(got));
  // After it, nothing listens any more.
  assert.equal(got.next, "ECONNREFUSED", JSON.stringify(got));
});
