// What Docker holds of a run, as tests look at it.
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
