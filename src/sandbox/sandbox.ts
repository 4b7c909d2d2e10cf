// What Bosun's steps need from a place to run sandboxes. `DockerSandbox` is the one runtime
// today; a Kubernetes Job runtime (docs/scaling.md) would implement the same interface, so the
// steps, the sweep and the operations endpoints depend on this, never on Docker.
import type { RunOutcome, RunSpec, SandboxRuntime } from "./docker-sandbox.ts";

export interface Sandbox {
  /** This deployment's id, put on everything the runtime makes, so sweeps touch only its own. */
  instance: string | null;
  /** Throws a message a maintainer understands when the runtime cannot be reached. */
  ping(): Promise<void>;
  imageExists(image: string): Promise<boolean>;
  /** Refuses (never falls back) when the runtime cannot offer gVisor. */
  requireRuntime(runtime: SandboxRuntime): Promise<void>;
  volumeName(runId: string, role: string): string;
  createVolume(runId: string, role: string): Promise<string>;
  removeVolume(runId: string, role: string): Promise<void>;
  /** Copies a host folder into a run's volume. */
  seedVolume(o: { runId: string; image: string; volume: string; mountPath: string; hostDir: string; exclude?: string[]; as?: string }): Promise<void>;
  /** Reads one file out of a run's volume (e.g. /bosun/result.json), capped. */
  readFile(o: { runId: string; image: string; volume: string; mountPath: string; path: string; maxBytes?: number }): Promise<{ content: string; truncated: boolean } | null>;
  /** One phase: start, stream stdout lines, enforce timeouts, return the outcome. */
  run(spec: RunSpec): Promise<RunOutcome>;
  /** A phase container another owner started for this run, still running. */
  findRunning(runId: string, role: RunSpec["role"]): Promise<{ id: string; epoch: number; startedAt: Date } | null>;
  reattach(containerId: string, spec: Pick<RunSpec, "timeoutMs" | "inactivityMs" | "onStdoutLine" | "handOver">): Promise<RunOutcome>;
  removeContainers(runId: string, o?: { epoch?: number; keep?: string[] }): Promise<number>;
  /** The image's id (`sha256:…`), which changes when the tag is moved to another build; null when missing. */
  imageId(image: string): Promise<string | null>;
  /** A volume that outlives runs (a setup cache), labelled with this deployment and `labels`. */
  createCacheVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeCacheVolume(name: string): Promise<void>;
  /** This deployment's cache volumes, with when each was made (the sweep removes those no cache record names). */
  cacheVolumes(): Promise<{ name: string; createdAt: Date }[]>;
  /** Runs that have anything left on the runtime (for the sweep). */
  runIdsPresent(): Promise<Set<string>>;
  cleanup(runId?: string): Promise<{ containers: number; volumes: number }>;
}
