// A run that must use gVisor on a Docker host without it is refused, never run under runc.
import { test } from "node:test";
import assert from "node:assert/strict";
import type Docker from "dockerode";
import { DockerSandbox } from "../../src/sandbox/docker-sandbox.ts";
import { RuntimeUnavailableError } from "../../src/sandbox/sandbox.ts";

test("a host without runsc refuses runsc runs with the runtimes it has", async () => {
  // Only `info` is consulted before anything is created.
  const hostWithoutGvisor = { info: () => Promise.resolve({ Runtimes: { runc: {}, "io.containerd.runc.v2": {} } }) } as unknown as Docker;
  const sandbox = new DockerSandbox(hostWithoutGvisor);
  await assert.rejects(sandbox.requireRuntime("runsc"), (e: unknown) => e instanceof RuntimeUnavailableError && /does not offer the gVisor \(runsc\) runtime; its runtimes are: runc, io\.containerd\.runc\.v2/.test(e.message));
  await assert.rejects(sandbox.run({ runId: "x", role: "agent", attempt: 1, image: "i", command: "true", volumes: {}, timeoutMs: 1000, runtime: "runsc" }), RuntimeUnavailableError);
});
