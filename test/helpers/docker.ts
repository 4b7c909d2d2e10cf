// What Docker holds of a run, as tests look at it.
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";

export const docker = new Docker();

/** Containers plus volumes still labelled with the run. */
export async function leftovers(runId: string): Promise<{ containers: number; volumes: number }> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`bosun.run=${runId}`] } });
  const { Volumes } = await docker.listVolumes({ filters: { label: [`bosun.run=${runId}`] } });
  return { containers: containers.length, volumes: (Volumes ?? []).length };
}

/** `docker inspect` of the run's running container in that role, once it is there. */
export async function waitForContainer(runId: string, role: string, timeoutMs = 20_000): Promise<Docker.ContainerInspectInfo> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [c] = await docker.listContainers({ filters: { label: [`bosun.run=${runId}`, `bosun.role=${role}`] } });
    if (c) return docker.getContainer(c.Id).inspect();
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ${role} container of run ${runId} appeared`);
}

/**
 * A Unix socket in front of the Docker engine that a test can cut and restore: an outage, as Bosun
 * sees it, while the engine and its containers carry on.
 */
export async function startDockerProxy(): Promise<{ socketPath: string; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-docker-proxy-"));
  const socketPath = join(dir, "docker.sock");
  const open = new Set<Socket>();
  let server: Server | null = null;
  const listen = async (): Promise<void> => {
    server = createServer((client) => {
      const upstream = connect("/var/run/docker.sock");
      for (const s of [client, upstream]) {
        open.add(s);
        s.on("close", () => open.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server?.listen(socketPath, resolve));
  };
  const cut = async (): Promise<void> => {
    const s = server;
    server = null;
    for (const c of open) c.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { socketPath, cut, restore: listen, close: async () => { await cut(); await rm(dir, { recursive: true, force: true }); } };
}
