// Sandboxes on the Docker host that DOCKER_HOST names, through dockerode. Every container and
// volume carries the `bosun.run` label so anything a crash leaves behind can be found and removed.
// Files move in and out through the Engine API's archive endpoints; the only host folders
// bind-mounted are under BOSUN_WORK_DIR (egress sockets, extra CAs), which a remote Docker host
// must see at the same path.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import Docker from "dockerode";
import { watchDisk, type DiskWatch } from "./disk-watch.ts";
import { reattachAsPhase, removeEgressFolders, runAsPhase, type BoundContainerSpec } from "./phase.ts";
import { defaultLimits, DockerUnavailableError, RuntimeUnavailableError, type ContainerSpec, type OverlayLower, type PhaseContainer, type ReattachSpec, type RunOutcome, type RunSpec, type Sandbox, type SandboxRuntime } from "./sandbox.ts";

export const runLabel = "bosun.run";
/** The deployment (database) a container or volume belongs to; the start-up sweep keeps to its own. */
export const instanceLabel = "bosun.instance";
/** On setup cache volumes, which belong to a repository rather than a run. */
export const cacheLabel = "bosun.cache";

const tailBytes = 16 * 1024;
/** Longer stdout lines are cut: an agent printing without newlines must not grow Bosun's memory. */
const maxLineBytes = 64 * 1024;

export class DockerSandbox implements Sandbox {
  readonly docker: Docker;
  /** Set once Bosun knows its deployment's id (from Postgres); labels everything made after. */
  instance: string | null = null;
  helperImage = "bosun/agent-base:latest";

  constructor(docker: Docker = new Docker()) {
    this.docker = docker;
  }

  #labels(runId: string, more: Record<string, string>): Record<string, string> {
    return { [runLabel]: runId, ...(this.instance ? { [instanceLabel]: this.instance } : {}), ...more };
  }

  /** Throws a message a maintainer understands when the Docker engine cannot be reached. */
  async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (e) {
      throw new DockerUnavailableError(`Docker is not reachable (${process.env["DOCKER_HOST"] ?? "/var/run/docker.sock"}): ${(e as Error).message}`, { cause: e });
    }
  }

  async imageExists(image: string): Promise<boolean> {
    try {
      await this.docker.getImage(image).inspect();
      return true;
    } catch {
      return false;
    }
  }

  async imageId(image: string): Promise<string | null> {
    try {
      return (await this.docker.getImage(image).inspect()).Id;
    } catch {
      return null;
    }
  }

  async createCacheVolume(name: string, labels: Record<string, string>): Promise<void> {
    await this.docker.createVolume({ Name: name, Labels: { [cacheLabel]: "setup", ...(this.instance ? { [instanceLabel]: this.instance } : {}), ...labels } });
  }

  async removeCacheVolume(name: string): Promise<boolean> {
    // A run's volume lies over it (Docker does not know: the overlay is only mounted in a phase).
    const { Volumes } = await this.docker.listVolumes({ filters: { label: [`bosun.overlay-of=${name}`] } });
    if ((Volumes ?? []).length) return false;
    try {
      await this.docker.getVolume(name).remove({ force: true });
      return true;
    } catch (e) {
      const status = (e as { statusCode?: number }).statusCode;
      if (status === 404) return true;
      // Docker refuses to remove a volume a container uses, force or not.
      if (status === 409) return false;
      throw e;
    }
  }

  async cacheVolumes(): Promise<{ name: string; createdAt: Date }[]> {
    const label = [cacheLabel, ...(this.instance ? [`${instanceLabel}=${this.instance}`] : [])];
    const { Volumes } = await this.docker.listVolumes({ filters: { label } });
    // dockerode's VolumeInspectInfo lacks CreatedAt, which the Engine API returns.
    return (Volumes ?? []).map((v) => ({ name: v.Name, createdAt: new Date((v as { CreatedAt?: string }).CreatedAt ?? 0) }));
  }

  volumeName(runId: string, role: string): string {
    return `bosun-${runId}-${role}`;
  }

  async createVolume(runId: string, role: string, o: { over?: OverlayLower } = {}): Promise<string> {
    const name = this.volumeName(runId, role);
    if (o.over) return this.#createOverlay(runId, role, o.over);
    try {
      await this.docker.getVolume(name).inspect();
    } catch {
      await this.docker.createVolume({ Name: name, Labels: this.#labels(runId, { "bosun.role": role }) });
    }
    return name;
  }

  /**
   * Docker's local driver mounts an overlay filesystem when a container uses the volume: the
   * lower folder read-only, the run's upper layer in a volume of its own (`<role>-upper`). Paths
   * are the Docker host's (Bosun may not see that disk), and the layers' folders are made by the
   * sandbox user in a container.
   */
  async #createOverlay(runId: string, role: string, over: OverlayLower): Promise<string> {
    const name = this.volumeName(runId, role);
    const lower = `${(await this.docker.getVolume(over.volume).inspect()).Mountpoint}/${over.subdir}`;
    const upperVolume = await this.createVolume(runId, `${role}-upper`);
    const upper = (await this.docker.getVolume(upperVolume).inspect()).Mountpoint;
    if (/[,:\s]/.test(lower + upper)) throw new Error(`[bosun/sandbox] the Docker host's volume paths (${lower}, ${upper}) cannot be given to an overlay mount`);
    const c = await this.docker.createContainer({
      Image: over.helperImage, Cmd: ["true"], User: "1000:1000", Labels: this.#labels(runId, { "bosun.role": "copy" }),
      HostConfig: { NetworkMode: "none", Binds: [`${upperVolume}:/bosun`] },
    });
    try {
      await c.putArchive(await tarOf([{ name: "upper/", content: "" }, { name: "work/", content: "" }]), { path: "/bosun" });
    } finally {
      await c.remove({ force: true });
    }
    await this.docker.createVolume({
      Name: name, Driver: "local", DriverOpts: { type: "overlay", device: "overlay", o: `lowerdir=${lower},upperdir=${upper}/upper,workdir=${upper}/work` },
      Labels: this.#labels(runId, { "bosun.role": role, "bosun.overlay-of": over.volume }),
    });
    return name;
  }

  async removeVolume(runId: string, role: string): Promise<void> {
    for (const name of [this.volumeName(runId, role), this.volumeName(runId, `${role}-upper`)]) {
      await this.docker.getVolume(name).remove({ force: true }).catch((e: { statusCode?: number }) => {
        if (e.statusCode !== 404) throw e;
      });
    }
  }

  /**
   * Copies a host directory into a volume (owned by the sandbox user) through a container that
   * never starts. With `as`, the directory lands as that subdirectory of the mount path.
   */
  async seedVolume(o: { runId: string; image: string; volume: string; mountPath: string; hostDir: string; exclude?: string[]; as?: string }): Promise<void> {
    const c = await this.docker.createContainer({
      Image: o.image, Cmd: ["true"], User: "1000:1000", Labels: this.#labels(o.runId, { "bosun.role": "copy" }),
      HostConfig: { NetworkMode: "none", Binds: [`${o.volume}:${o.mountPath}`] },
    });
    try {
      const rename = o.as ? [`--transform=s,^\\.,./${o.as},`] : [];
      const tar = spawn("tar", ["-C", o.hostDir, "--owner=1000", "--group=1000", "--numeric-owner", ...rename, ...(o.exclude ?? []).map((x) => `--exclude=${x}`), "-cf", "-", "."], { stdio: ["ignore", "pipe", "inherit"] });
      await c.putArchive(tar.stdout, { path: o.mountPath });
    } finally {
      await c.remove({ force: true });
    }
  }

  /**
   * Reads one regular file out of a volume; null when it is missing or not a regular file (a
   * symlink, a FIFO). The archive is parsed here, never unpacked on the host.
   */
  async readFile(o: { runId: string; image: string; volume: string; mountPath: string; path: string; maxBytes?: number }): Promise<{ content: string; truncated: boolean } | null> {
    const c = await this.docker.createContainer({
      Image: o.image, Cmd: ["true"], Labels: this.#labels(o.runId, { "bosun.role": "copy" }),
      HostConfig: { NetworkMode: "none", Binds: [`${o.volume}:${o.mountPath}:ro`] },
    });
    try {
      let archive: NodeJS.ReadableStream;
      try {
        archive = await c.getArchive({ path: o.path });
      } catch {
        return null;
      }
      return await firstRegularFile(archive as Readable, o.maxBytes ?? 1024 * 1024);
    } finally {
      await c.remove({ force: true });
    }
  }

  /** A phase's container, with its secrets, CAs and network (src/sandbox/phase.ts). */
  run(spec: RunSpec): Promise<RunOutcome> {
    return runAsPhase(spec, (c) => this.runContainer(c));
  }

  /**
   * Runs a command to completion in a locked-down container: non-root, no network, no
   * capabilities, read-only root filesystem, limits. Removes the container afterwards.
   */
  async runContainer(spec: BoundContainerSpec): Promise<RunOutcome> {
    const limits = spec.limits ?? defaultLimits;
    const runtime = spec.runtime ?? "runc";
    if (runtime !== "runc") await this.requireRuntime(runtime);
    const name = `bosun-${spec.runId}-${spec.role}-${spec.attempt}`;
    await this.docker.getContainer(name).remove({ force: true }).catch(() => undefined);
    const container = await this.docker.createContainer({
      name,
      Image: spec.image,
      Cmd: ["sh", "-c", spec.command],
      User: "1000:1000",
      WorkingDir: "/workspace",
      Env: Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`),
      Labels: this.#labels(spec.runId, { "bosun.role": spec.role, "bosun.epoch": String(spec.attempt) }),
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        NetworkMode: "none",
        Binds: [...Object.entries(spec.volumes).map(([vol, path]) => `${vol}:${path}`), ...spec.binds],
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        ReadonlyRootfs: true,
        // Executable (Docker's tmpfs default is noexec): `go test` and `go run` run the binaries
        // they link in /tmp, npx and cargo run what they install under home. The workspace volume
        // is executable anyway, so noexec here kept nothing from the agent, only toolchains from working.
        Tmpfs: { "/tmp": "rw,nosuid,exec,size=512m", "/home/agent": "rw,nosuid,exec,size=256m,uid=1000,gid=1000" },
        Memory: limits.memoryBytes,
        MemorySwap: limits.memoryBytes,
        NanoCpus: limits.nanoCpus,
        PidsLimit: limits.pids,
        Privileged: false,
        AutoRemove: false,
        Runtime: runtime,
      },
    });
    let outcome: RunOutcome | null = null;
    try {
      // The root filesystem is read-only, so files go straight into their top-level (volume) directory.
      const byDir = new Map<string, { name: string; content: string }[]>();
      for (const f of spec.files ?? []) {
        const [, top, ...rest] = f.path.split("/");
        const dir = `/${top ?? ""}`;
        byDir.set(dir, [...(byDir.get(dir) ?? []), { name: rest.join("/"), content: f.content }]);
      }
      for (const [dir, entries] of byDir) await container.putArchive(await tarOf(entries), { path: dir });
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      await container.start();
      outcome = await this.#followWatched(container, spec, () => this.#follow(container, stream, spec, spec.timeoutMs));
      return outcome;
    } finally {
      if (!outcome?.handedOver) await container.remove({ force: true }).catch(() => undefined);
    }
  }

  /**
   * `follow` with a phase's disk measured meanwhile (src/sandbox/disk-watch.ts): past its limit the
   * container is killed and the outcome says so. Bosun's own helper containers are not measured.
   */
  async #followWatched(container: Docker.Container, spec: Pick<ContainerSpec, "runId" | "role" | "limits" | "runtime">, follow: () => Promise<RunOutcome>): Promise<RunOutcome> {
    const limit = spec.limits?.diskBytes;
    let watch: DiskWatch | null = null;
    if (limit !== undefined && (spec.role === "setup" || spec.role === "agent" || spec.role === "test")) {
      const name = `${(await container.inspect()).Name.replace(/^\//, "")}-disk`;
      watch = await watchDisk(this.docker, container, { limitBytes: limit, image: this.helperImage, labels: this.#labels(spec.runId, { "bosun.role": "disk" }), name });
    }
    let outcome: RunOutcome | null = null;
    try {
      outcome = await follow();
    } finally {
      // A container that ended is measured once more; one handed over (or lost with Docker) is not ours to judge.
      await watch?.close({ measure: outcome !== null && !outcome.handedOver });
    }
    const disk = watch?.stopped();
    return disk && !outcome.handedOver ? { ...outcome, disk } : outcome;
  }

  /** Throws a message an operator can act on when the Docker host lacks the runtime; never falls back. */
  async requireRuntime(runtime: SandboxRuntime): Promise<void> {
    const info = (await this.docker.info()) as { Runtimes?: Record<string, unknown> };
    if (!info.Runtimes || !(runtime in info.Runtimes)) {
      throw new RuntimeUnavailableError(`the Docker host does not offer the ${runtime === "runsc" ? "gVisor (runsc)" : runtime} runtime; its runtimes are: ${Object.keys(info.Runtimes ?? {}).join(", ") || "none listed"}`);
    }
  }

  /**
   * Follows a container's output to its exit: lines to `onStdoutLine`, a tail of both streams, and
   * the wall-clock and inactivity limits (the wall clock counted from `timeoutMs` now).
   */
  async #follow(container: Docker.Container, stream: NodeJS.ReadableStream, spec: Pick<ContainerSpec, "onStdoutLine" | "captureStdoutBytes" | "inactivityMs" | "handOver" | "stop">, timeoutMs: number): Promise<RunOutcome> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    // A connection to Docker that breaks shows in wait() below; an unheard stream error would end the process.
    stream.on("error", () => undefined);
    // dockerode's modem is untyped; demuxStream splits Docker's multiplexed attach or logs stream.
    (container.modem as { demuxStream(s: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void }).demuxStream(stream, stdout, stderr);
    let tail = "";
    let lastOutput = Date.now();
    const keep = (s: string): void => {
      lastOutput = Date.now();
      tail = (tail + s).slice(-tailBytes);
    };
    let partial = "";
    const captured: Buffer[] = [];
    let capturedBytes = 0;
    let captureOverflow = false;
    stdout.on("data", (d: Buffer) => {
      if (spec.captureStdoutBytes !== undefined && !captureOverflow) {
        capturedBytes += d.length;
        if (capturedBytes > spec.captureStdoutBytes) captureOverflow = true;
        else captured.push(d);
      }
      const s = d.toString("utf8");
      keep(s);
      if (!spec.onStdoutLine) return;
      partial += s;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      if (partial.length > maxLineBytes) {
        lines.push(partial.slice(0, maxLineBytes));
        partial = "";
      }
      for (const line of lines) spec.onStdoutLine(line.slice(0, maxLineBytes));
    });
    stderr.on("data", (d: Buffer) => keep(d.toString("utf8")));
    let timedOut = false;
    let inactive = false;
    const timer = setTimeout(() => {
      timedOut = true;
      container.kill().catch(() => undefined);
    }, Math.max(0, timeoutMs));
    const watchdog = spec.inactivityMs
      ? setInterval(() => {
        if (Date.now() - lastOutput < (spec.inactivityMs ?? 0)) return;
        inactive = true;
        container.kill().catch(() => undefined);
      }, Math.min(1000, spec.inactivityMs))
      : null;
    const kill = (): void => void container.kill().catch(() => undefined);
    if (spec.stop?.aborted) kill();
    spec.stop?.addEventListener("abort", kill, { once: true });
    const handOver = spec.handOver;
    const handedOver = new Promise<null>((resolve) => {
      if (handOver?.aborted) resolve(null);
      handOver?.addEventListener("abort", () => resolve(null), { once: true });
    });
    // When the output stream closes, either the container ended (wait() answers) or the connection
    // to Docker broke, which a pending wait() may never report: look, and say so.
    const lost = new Promise<never>((_, reject) => {
      const look = (): void => {
        container.inspect().then((info) => {
          if (info.State.Running) reject(new DockerUnavailableError("the connection to Docker broke while following the container"));
        }, reject);
      };
      stream.on("close", look);
      stream.on("error", look);
    });
    // The stream is ours to close whatever happens: a connection Docker (or a broken link) only
    // half-closed would otherwise stay open.
    const closeStream = (): void => (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
    let result: { StatusCode: number } | null;
    try {
      result = await Promise.race([container.wait() as Promise<{ StatusCode: number }>, handedOver, lost]);
    } catch (e) {
      closeStream();
      throw e;
    } finally {
      clearTimeout(timer);
      if (watchdog) clearInterval(watchdog);
      spec.stop?.removeEventListener("abort", kill);
    }
    if (result === null) {
      closeStream();
      return { handedOver: true, exitCode: -1, timedOut: false, inactive: false, outputTail: tail, containerId: container.id, stdout: null };
    }
    await new Promise((r) => setTimeout(r, 50)); // let the stream flush its last bytes
    closeStream();
    if (partial) spec.onStdoutLine?.(partial);
    const stdoutText = spec.captureStdoutBytes === undefined || captureOverflow ? null : Buffer.concat(captured).toString("utf8");
    return { exitCode: result.StatusCode, timedOut, inactive, outputTail: tail, containerId: container.id, stdout: stdoutText };
  }

  /** A still-running container of the run in this role (an earlier owner's, after a crash), or null. */
  async findRunning(runId: string, role: RunSpec["role"]): Promise<{ id: string; epoch: number; startedAt: Date } | null> {
    const [c] = await this.docker.listContainers({ filters: { label: [`${runLabel}=${runId}`, `bosun.role=${role}`], status: ["running"] } });
    if (!c) return null;
    const info = await this.docker.getContainer(c.Id).inspect();
    return { id: c.Id, epoch: Number(c.Labels["bosun.epoch"] ?? 0), startedAt: new Date(info.State.StartedAt) };
  }

  /** Takes over a phase's running container, its network served again (src/sandbox/phase.ts). */
  reattach(container: PhaseContainer & { id: string }, spec: ReattachSpec): Promise<RunOutcome> {
    return reattachAsPhase(container, spec, () => this.#followAgain(container.id, container.role, spec));
  }

  /**
   * Takes over a running container: its output from the first line (Docker keeps it), its exit,
   * and the same limits as `run`, counted from when it started. Removes it afterwards.
   */
  async #followAgain(containerId: string, role: ContainerSpec["role"], spec: Pick<ContainerSpec, "timeoutMs" | "inactivityMs" | "onStdoutLine" | "handOver" | "stop" | "limits" | "runtime">): Promise<RunOutcome> {
    const container = this.docker.getContainer(containerId);
    let outcome: RunOutcome | null = null;
    try {
      const info = await container.inspect();
      const stream = await container.logs({ follow: true, stdout: true, stderr: true });
      const elapsed = Date.now() - new Date(info.State.StartedAt).getTime();
      const runId = info.Config.Labels[runLabel] ?? "";
      outcome = await this.#followWatched(container, { ...spec, runId, role }, () => this.#follow(container, stream, spec, spec.timeoutMs - elapsed));
      return outcome;
    } finally {
      if (!outcome?.handedOver) await container.remove({ force: true }).catch(() => undefined);
    }
  }

  /** Removes a run's containers (a previous owner's, after a crash), keeping its volumes and any listed in `keep`. */
  async removeContainers(runId: string, o: { epoch?: number; keep?: string[] } = {}): Promise<number> {
    const label = [`${runLabel}=${runId}`, ...(o.epoch !== undefined ? [`bosun.epoch=${o.epoch}`] : [])];
    const containers = (await this.docker.listContainers({ all: true, filters: { label } })).filter((c) => !(o.keep ?? []).includes(c.Id));
    for (const c of containers) await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    return containers.length;
  }

  releaseEarlierPhases(hostDir: string, keep: PhaseContainer | null): Promise<void> {
    return removeEgressFolders(hostDir, keep);
  }

  /** Run ids of this deployment that have containers or volumes on this Docker host. */
  async runIdsPresent(): Promise<Set<string>> {
    const ids = new Set<string>();
    const mine = this.instance ? [runLabel, `${instanceLabel}=${this.instance}`] : [runLabel];
    for (const c of await this.docker.listContainers({ all: true, filters: { label: mine } })) {
      const id = c.Labels[runLabel];
      if (id) ids.add(id);
    }
    const { Volumes } = await this.docker.listVolumes({ filters: { label: mine } });
    for (const v of Volumes ?? []) {
      const id = v.Labels?.[runLabel];
      if (id) ids.add(id);
    }
    return ids;
  }

  /** Removes every container and volume of a run (or of every run when runId is omitted). */
  async cleanup(runId?: string): Promise<{ containers: number; volumes: number }> {
    const label = runId ? `${runLabel}=${runId}` : runLabel;
    const containers = await this.docker.listContainers({ all: true, filters: { label: [label] } });
    for (const c of containers) await this.docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    const { Volumes } = await this.docker.listVolumes({ filters: { label: [label] } });
    for (const v of Volumes ?? []) await this.docker.getVolume(v.Name).remove({ force: true }).catch(() => undefined);
    return { containers: containers.length, volumes: (Volumes ?? []).length };
  }
}

/** A tar archive of small files (and empty folders, named with a trailing /), owned by the sandbox user. */
async function tarOf(files: { name: string; content: string }[]): Promise<Buffer> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-files-"));
  try {
    for (const f of files) {
      const target = join(dir, f.name);
      // A name ending in / is an empty folder.
      if (f.name.endsWith("/")) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.content);
    }
    // Top-level names only, so tar also records the directories (with the sandbox user as owner).
    const rel = [...new Set(files.map((f) => f.name.split("/")[0] ?? f.name))];
    return await new Promise<Buffer>((resolve, reject) => {
      const tar = spawn("tar", ["-C", dir, "--owner=1000", "--group=1000", "--numeric-owner", "-cf", "-", ...rel], { stdio: ["ignore", "pipe", "pipe"] });
      const out: Buffer[] = [];
      tar.stdout.on("data", (d: Buffer) => out.push(d));
      tar.on("close", (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error("[bosun/sandbox] could not pack files"))));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The first regular file of a tar stream, up to `maxBytes`. PAX and GNU long-name headers are
 * skipped; any other entry type (symlink, FIFO, device, directory) yields null.
 */
export async function firstRegularFile(stream: Readable, maxBytes: number): Promise<{ content: string; truncated: boolean } | null> {
  let buf = Buffer.alloc(0);
  let result: { content: string; truncated: boolean } | null = null;
  try {
    for await (const chunk of stream) {
      buf = Buffer.concat([buf, chunk as Buffer]);
      for (;;) {
        if (buf.length < 512) break;
        const header = buf.subarray(0, 512);
        if (header.every((b) => b === 0)) return null;
        const size = parseInt(header.subarray(124, 136).toString("latin1").replace(/\0.*$/s, "").trim() || "0", 8);
        const type = String.fromCharCode(header[156] ?? 0);
        if (type === "x" || type === "g" || type === "L" || type === "K") {
          const skip = 512 + Math.ceil(size / 512) * 512;
          if (buf.length < skip) break;
          buf = buf.subarray(skip);
          continue;
        }
        if (type !== "0" && type !== "\0") return null;
        const want = Math.min(size, maxBytes);
        if (buf.length < 512 + want) break;
        result = { content: buf.subarray(512, 512 + want).toString("utf8"), truncated: size > maxBytes };
        return result;
      }
      if (buf.length > maxBytes + 64 * 1024) return null;
    }
    return result;
  } finally {
    // Stop reading the rest of the archive; Docker closes its side.
    stream.destroy();
  }
}
