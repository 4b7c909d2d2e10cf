// A phase's container as a runtime on this host starts it: the phase's secrets and the operator's
// extra CAs in its environment and binds, and for an `allowlist` network a recording egress proxy
// (egress/proxy.ts) on a Unix socket in a folder of the run's host folder, bound in whole, with
// the command behind the forwarder that makes it an ordinary proxy inside (egress/forwarder.ts).
import { chmod, mkdir, readdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { sandboxCaBind, sandboxCaEnv } from "./ca-certs.ts";
import { forwarderEnv, forwarderScript, noForwarderStatus } from "./egress/forwarder.ts";
import { startEgressProxy } from "./egress/proxy.ts";
import { defaultLimits, NoForwarderError, type ContainerSpec, type PhaseContainer, type ReattachSpec, type RunOutcome, type RunSpec } from "./sandbox.ts";

/** A container with the host folders bound in: the egress socket's (`/host/path:/bosun/egress:ro`) and the extra CAs' (`/host/path:/bosun/ca:ro`), nothing else. */
export interface BoundContainerSpec extends ContainerSpec {
  binds: string[];
}

/** Where a phase container's egress socket lives: a folder, bound in whole, so a new owner can put a fresh socket where a re-attached container looks. */
function egressDir(hostDir: string, c: PhaseContainer): string {
  return join(hostDir, `egress-${c.role}-${c.epoch}`);
}

/**
 * The phase's network around `body`: nothing for `none`; for `allowlist`, a recording egress proxy
 * listening in the phase's socket folder for the container's epoch, closed when `body` ends.
 */
async function withNetwork(spec: Pick<RunSpec, "network" | "onNetworkEvent" | "onDependency">, container: PhaseContainer, body: (bind: string | null) => Promise<RunOutcome>): Promise<RunOutcome> {
  const network = spec.network ?? { mode: "none" };
  if (network.mode === "none") return body(null);
  const dir = egressDir(network.hostDir, container);
  // Bosun's alone: 0755, and bound read-only, so the sandbox can reach the socket but never add,
  // replace or link anything here (under compose Bosun and the sandbox user are both uid 1000, so
  // the mode alone would not keep it out).
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  const socketPath = join(dir, "sock");
  // A socket a dead owner left: the proxy below takes its place for the container that still uses it.
  await rm(socketPath, { force: true });
  const proxy = await startEgressProxy({ socketPath, rule: network.rule, onEvent: spec.onNetworkEvent, onDependency: spec.onDependency });
  let outcome: RunOutcome | null = null;
  try {
    outcome = await body(`${dir}:/bosun/egress:ro`);
    return outcome;
  } finally {
    await proxy.close();
    // A container handed over (or lost with Docker) keeps its folder: the next owner's proxy listens
    // in the same one. The run's host folder goes when the run ends.
    if (outcome && !outcome.handedOver) await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a phase's container through `start`, with its secrets, CAs and network. */
export async function runAsPhase(spec: RunSpec, start: (c: BoundContainerSpec) => Promise<RunOutcome>): Promise<RunOutcome> {
  const { network: _network, onNetworkEvent: _onNetworkEvent, onDependency: _onDependency, secrets, ca, ...container } = spec;
  const base = { ...container, env: { ...container.env, ...(ca ? sandboxCaEnv : {}), ...secrets }, binds: ca ? [sandboxCaBind(ca)] : [] };
  return withNetwork(spec, { role: spec.role, epoch: spec.attempt }, async (bind) => {
    if (!bind) return start(base);
    const outcome = await start({
      ...base,
      // The forwarder gives the command an ordinary proxy on the container's loopback (see forwarder.ts).
      command: forwarderScript({ pids: (base.limits ?? defaultLimits).pids }),
      env: { ...base.env, ...forwarderEnv, BOSUN_PHASE_COMMAND: base.command },
      binds: [...base.binds, bind],
    });
    if (outcome.exitCode === noForwarderStatus) throw new NoForwarderError(`the image ${spec.image} has neither node nor socat`);
    return outcome;
  });
}

/** Follows a phase's running container through `follow`, with a fresh proxy where its egress socket was. */
export function reattachAsPhase(container: PhaseContainer, spec: ReattachSpec, follow: () => Promise<RunOutcome>): Promise<RunOutcome> {
  return withNetwork(spec, container, follow);
}

/** Removes the egress folders under `hostDir` but `keep`'s. */
export async function removeEgressFolders(hostDir: string, keep: PhaseContainer | null): Promise<void> {
  const kept = keep ? basename(egressDir(hostDir, keep)) : null;
  for (const f of await readdir(hostDir).catch(() => [])) if (/^egress-/.test(f) && f !== kept) await rm(join(hostDir, f), { recursive: true, force: true });
}
