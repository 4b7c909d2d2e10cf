// What Bosun's steps need from a place to run sandboxes. `DockerSandbox` is the one runtime
// today; a Kubernetes Job runtime (docs/scaling.md) would implement the same interface, so the
// steps, the sweep and the operations endpoints depend on this file, never on Docker. Its types
// live here, not with the runtime, so a runtime depends on the interface and not the reverse.
//
// A phase (setup, agent, test) is one request: its container, and the network, secrets and extra
// CAs the run's policy gives it. How the runtime enforces them (Docker: a recording egress proxy
// on a Unix socket and a forwarder inside the container) is the runtime's own business.
import type { SandboxCa } from "./ca-certs.ts";
import type { EgressRule } from "./egress/allowlist.ts";
import type { DependencyInstall } from "./egress/dependencies.ts";
import type { NetworkEvent } from "./egress/events.ts";

/** Docker could not be reached, or the connection to it broke while following a container. */
export class DockerUnavailableError extends Error {}

/** An error of the connection to the Docker engine (gone, restarting, cut), rather than one Docker answered with. */
export function isDockerConnectionError(e: unknown): boolean {
  if (e instanceof DockerUnavailableError) return true;
  const err = e as { code?: unknown; syscall?: unknown; message?: unknown } | null;
  const code = typeof err?.code === "string" ? err.code : "";
  if (["ECONNREFUSED", "ECONNRESET", "EPIPE"].includes(code)) return true;
  if (code === "ENOENT" && err?.syscall === "connect") return true;
  return typeof err?.message === "string" && /socket hang up/.test(err.message);
}

export interface SandboxLimits {
  memoryBytes: number;
  nanoCpus: number;
  pids: number;
  /** What the container's writable volumes may take on disk together, measured while it runs (phases only: setup, agent, test). */
  diskBytes?: number;
}

/** A phase stopped for its disk: past its limit, or no longer measurable (`unmeasured`). */
export interface DiskStop {
  limitBytes: number;
  /** What its writable volumes took at the last measurement. */
  bytes: number;
  /** Each writable volume by its path in the container, the fullest first. */
  volumes: { path: string; bytes: number }[];
  unmeasured?: string;
}

export const defaultLimits: SandboxLimits = { memoryBytes: 2 * 1024 ** 3, nanoCpus: 1_000_000_000, pids: 512 };

export type SandboxRuntime = "runc" | "runsc";

/** The host lacks the runtime asked for (gVisor); never fallen back from. */
export class RuntimeUnavailableError extends Error {}

/** One container: what it runs, on which volumes, within which limits. */
export interface ContainerSpec {
  runId: string;
  role: "agent" | "test" | "setup" | "diff" | "cache";
  /** Container name suffix so a replica that restarts a step does not collide with the old container. */
  attempt: number;
  image: string;
  command: string;
  env?: Record<string, string>;
  /** volume name → mount path; a path ending in `:ro` is mounted read-only */
  volumes: Record<string, string>;
  /** Files written into the container before it starts (into mounted volumes). */
  files?: { path: string; content: string }[];
  timeoutMs: number;
  /** Stop the container when it prints nothing for this long. */
  inactivityMs?: number;
  /** Docker runtime: runc (Docker's default) or runsc (gVisor). */
  runtime?: SandboxRuntime;
  limits?: SandboxLimits;
  onStdoutLine?: (line: string) => void;
  /** Stop following (and leave the container running, for another owner to take over) when this aborts. */
  handOver?: AbortSignal;
  /** Kill the container when this aborts (the run's transcript limit with `on_limit: stop`); its outcome is its exit. */
  stop?: AbortSignal;
  /** Keep all of stdout (up to this many bytes) and return it. */
  captureStdoutBytes?: number;
}

/**
 * A phase's network: none at all, or only through Bosun's recording egress proxy to what `rule`
 * lists. `hostDir` is the run's folder on Bosun's host (under BOSUN_WORK_DIR, which a remote
 * Docker host sees at the same path): the runtime may keep the phase's socket there.
 */
export type PhaseNetwork = { mode: "none" } | { mode: "allowlist"; rule: EgressRule; hostDir: string };

/** What the run's policy gives a phase besides its container; a helper container (the diff) has none of it. */
export interface PhaseSettings {
  /** Default `none`. */
  network?: PhaseNetwork;
  /** Each request through the proxy, allowed or refused, as it ends. */
  onNetworkEvent?: (e: NetworkEvent) => void;
  /** A package download the proxy recognised. */
  onDependency?: (d: DependencyInstall) => void;
  /** Secret values by variable name, set over `env`. */
  secrets?: Record<string, string>;
  /** The operator's extra CAs (BOSUN_SANDBOX_CA_CERTS), trusted inside the container; none when null. */
  ca?: SandboxCa | null;
}

export interface RunSpec extends ContainerSpec, PhaseSettings {}

/** What following a phase's running container again takes: its limits, its output, its network. */
export type ReattachSpec = Pick<RunSpec, "timeoutMs" | "inactivityMs" | "onStdoutLine" | "handOver" | "stop" | "network" | "onNetworkEvent" | "onDependency" | "limits" | "runtime">;

/** A phase's container, by its role and the epoch (attempt) of the owner that started it. */
export interface PhaseContainer { role: RunSpec["role"]; epoch: number }

/** An `allowlist` phase's image has neither `node` nor `socat`, one of which the network needs inside the container. */
export class NoForwarderError extends Error {}

export interface RunOutcome {
  /** Following stopped on `handOver`; the container still runs and was not removed. */
  handedOver?: boolean;
  exitCode: number;
  timedOut: boolean;
  /** The last lines of combined output, for comments and the transcript. */
  outputTail: string;
  /** Stopped for printing nothing for `inactivityMs`. */
  inactive: boolean;
  containerId: string;
  /** stdout in full, when `captureStdoutBytes` was set; null when it was longer than that. */
  stdout: string | null;
  /** Stopped for its disk (`limits.diskBytes`). */
  disk?: DiskStop;
}

/** The read-only lower layer of a run's volume: a folder of another volume, and the image of the helper that prepares the layers. */
export interface OverlayLower { volume: string; subdir: string; helperImage: string }

export interface Sandbox {
  /** This deployment's id, put on everything the runtime makes, so sweeps touch only its own. */
  instance: string | null;
  /** The image of Bosun's helper containers (BOSUN_AGENT_IMAGE): the one that measures a phase's disk. */
  helperImage: string;
  /** Throws a message a maintainer understands when the runtime cannot be reached. */
  ping(): Promise<void>;
  imageExists(image: string): Promise<boolean>;
  /** Refuses (never falls back) when the runtime cannot offer gVisor. */
  requireRuntime(runtime: SandboxRuntime): Promise<void>;
  volumeName(runId: string, role: string): string;
  /**
   * A run's volume. With `over`, a copy-on-write view of `over.subdir` of another volume (a setup
   * cache): reads see its files, writes go to the run's own layer and never reach it; it is made at
   * once, whatever the size. Throws where the runtime cannot (the caller copies instead).
   */
  createVolume(runId: string, role: string, o?: { over?: OverlayLower }): Promise<string>;
  removeVolume(runId: string, role: string): Promise<void>;
  /** Copies a host folder into a run's volume. */
  seedVolume(o: { runId: string; image: string; volume: string; mountPath: string; hostDir: string; exclude?: string[]; as?: string }): Promise<void>;
  /** Reads one file out of a run's volume (e.g. /bosun/result.json), capped. */
  readFile(o: { runId: string; image: string; volume: string; mountPath: string; path: string; maxBytes?: number }): Promise<{ content: string; truncated: boolean } | null>;
  /**
   * One phase (or a helper container): start it with its network, secrets and CAs, stream stdout
   * lines, enforce timeouts, return the outcome. Throws NoForwarderError when an `allowlist`
   * phase's image cannot reach the network.
   */
  run(spec: RunSpec): Promise<RunOutcome>;
  /** A phase container another owner started for this run, still running. */
  findRunning(runId: string, role: RunSpec["role"]): Promise<{ id: string; epoch: number; startedAt: Date } | null>;
  /** Follows that container to its exit, its network served again where it looks for it. */
  reattach(container: PhaseContainer & { id: string }, spec: ReattachSpec): Promise<RunOutcome>;
  removeContainers(runId: string, o?: { epoch?: number; keep?: string[] }): Promise<number>;
  /** The image's id (`sha256:…`), which changes when the tag is moved to another build; null when missing. */
  imageId(image: string): Promise<string | null>;
  /** A volume that outlives runs (a setup cache), labelled with this deployment and `labels`. */
  createCacheVolume(name: string, labels: Record<string, string>): Promise<void>;
  /** False when the volume is in use (a run's volume lies over it, or a container reads it): a later sweep removes it. */
  removeCacheVolume(name: string): Promise<boolean>;
  /** This deployment's cache volumes, with when each was made (the sweep removes those no cache record names). */
  cacheVolumes(): Promise<{ name: string; createdAt: Date }[]>;
  /**
   * Removes what a run's earlier phases left on Bosun's host under `hostDir` (egress socket
   * folders), but that of `keep`, a container still running that the caller takes over.
   */
  releaseEarlierPhases(hostDir: string, keep: PhaseContainer | null): Promise<void>;
  /** Runs that have anything left on the runtime (for the sweep). */
  runIdsPresent(): Promise<Set<string>>;
  cleanup(runId?: string): Promise<{ containers: number; volumes: number }>;
}
