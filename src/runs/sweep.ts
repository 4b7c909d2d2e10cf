// What ended runs left on the Docker host and in the work folder: containers, volumes and scratch
// folders of runs that have ended (or that this database does not know, with this deployment's
// label). Live runs keep theirs: another replica may be working on them, and whoever claims them
// next deals with stale containers. Run at start-up and then now and then by the worker, so what a
// Docker outage kept Bosun from removing goes once Docker is back.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { DockerSandbox } from "../sandbox/docker-sandbox.ts";
import { isTerminal } from "./run.ts";
import type { RunStore } from "./store.ts";

export async function sweepLeftovers(o: { store: RunStore; sandbox: DockerSandbox; workDir: string; log: Logger }): Promise<void> {
  let ids: Set<string>;
  try {
    ids = await o.sandbox.runIdsPresent();
  } catch (e) {
    o.log.warn({ err: e }, "could not look for leftover sandboxes: Docker is not reachable");
    ids = new Set();
  }
  for (const entry of await readdir(o.workDir).catch(() => [])) ids.add(entry);
  for (const id of ids) {
    const run = /^[0-9a-f-]{36}$/.test(id) ? await o.store.get(id) : null;
    if (run && !isTerminal(run.state)) continue;
    const removed = await o.sandbox.cleanup(id).catch(() => ({ containers: 0, volumes: 0 }));
    await rm(join(o.workDir, id), { recursive: true, force: true });
    o.log.info({ run: id, ...removed }, "removed what an ended run left behind");
  }
}
