// A sandbox's disk, measured while it runs. Docker's local volume driver cannot give a volume a
// size on this kind of host (ext4 under overlay2: a quota needs xfs project quotas, or a block
// device per volume), and a tmpfs volume would hold a large repository in memory. So a helper
// container mounts the phase's writable volumes read-only and prints what each takes on disk
// (`du`: blocks in use, so a sparse file costs what it really stores) about every second; past the
// limit, Bosun kills the phase's container. The helper runs as root with only CAP_DAC_READ_SEARCH,
// so a folder the sandbox made unreadable is still counted; no network, read-only root. It runs
// under runc whatever the phase's runtime: it is Bosun's code, reading (stat and readdir only) the
// volumes read-only, and under runsc its start stalled beside a gVisor sandbox on this host.
//
// What it cannot do: stop a writer between two measurements. A sandbox writing at W bytes/s may
// pass the limit by about W × (1 s + one measurement) before it is killed; the README states it.
import type Docker from "dockerode";
import { PassThrough } from "node:stream";
import type { DiskStop } from "./sandbox.ts";

/** The seconds between two measurements (each also takes as long as `du` walks the volumes). */
export const diskWatchIntervalSeconds = 1;

/** One measurement: a line per volume ("<index> <KiB>"), then "end". */
const measure = "for d in /m/*; do echo \"${d#/m/} $(du -skx \"$d\" 2>/dev/null | cut -f1)\"; done; echo end";
const script = `while :; do ${measure}; sleep ${diskWatchIntervalSeconds}; done`;

export interface DiskWatch {
  /** Set once the sandbox was stopped for its disk (or because its disk could no longer be measured). */
  stopped(): DiskStop | null;
  /**
   * Measures once more (the sandbox has ended: a writer faster than the interval is judged by what
   * it left), then ends the measuring; the helper container is removed.
   */
  close(o?: { measure: boolean }): Promise<void>;
}

/**
 * Watches the writable volumes `target` (a started container) mounts: a run's overlay volume by its
 * own upper layer (the setup cache's files below it are not the run's disk). Null when it mounts none.
 */
export async function watchDisk(docker: Docker, target: Docker.Container, o: { limitBytes: number; image: string; labels: Record<string, string>; name: string }): Promise<DiskWatch | null> {
  const info = await target.inspect();
  const mounts = (info.Mounts as { Type?: string; Name?: string; Destination: string; RW: boolean }[]).filter((m) => m.Type === "volume" && m.RW && m.Name);
  if (!mounts.length) return null;
  const measured = await Promise.all(mounts.map(async (m) => {
    const labels = (await docker.getVolume(m.Name ?? "").inspect()).Labels ?? {};
    return { path: m.Destination, volume: labels["bosun.overlay-of"] ? `${m.Name ?? ""}-upper` : m.Name ?? "" };
  }));
  await docker.getContainer(o.name).remove({ force: true }).catch(() => undefined);
  const helper = await docker.createContainer({
    name: o.name, Image: o.image, Cmd: ["sh", "-c", script], User: "0:0", Labels: o.labels, AttachStdout: true, AttachStderr: true,
    HostConfig: {
      NetworkMode: "none", Binds: measured.map((m, i) => `${m.volume}:/m/${i}:ro`), CapDrop: ["ALL"], CapAdd: ["DAC_READ_SEARCH"],
      SecurityOpt: ["no-new-privileges"], ReadonlyRootfs: true, Memory: 256 * 1024 ** 2, MemorySwap: 256 * 1024 ** 2, NanoCpus: 500_000_000, PidsLimit: 32,
    },
  });
  let stop: DiskStop | null = null;
  let watching = true;
  let last: { path: string; bytes: number }[] = [];
  const judge = (why: DiskStop): void => {
    if (stop) return;
    stop = why;
    if (watching) target.kill().catch(() => undefined);
  };
  const stdout = new PassThrough();
  const read = reader(measured.map((m) => m.path), (volumes) => {
    last = volumes;
    const bytes = volumes.reduce((n, v) => n + v.bytes, 0);
    if (bytes > o.limitBytes) judge({ limitBytes: o.limitBytes, bytes, volumes });
  });
  stdout.on("data", (d: Buffer) => read(d.toString("utf8")));
  const stream = await helper.attach({ stream: true, stdout: true, stderr: true });
  stream.on("error", () => undefined);
  (helper.modem as Demuxer).demuxStream(stream, stdout, new PassThrough().resume());
  // Fail closed: a sandbox whose disk is no longer measured (the helper ended: killed, out of
  // memory) is stopped rather than left unwatched. A lost connection to Docker is not that: the
  // run's outage handling follows the sandbox again, with a new helper, once Docker is back.
  stream.on("close", () => {
    if (!watching) return;
    helper.inspect().then((i) => {
      if (watching && !i.State.Running) judge({ limitBytes: o.limitBytes, bytes: last.reduce((n, v) => n + v.bytes, 0), volumes: last, unmeasured: "the measuring helper stopped" });
    }, () => undefined);
  });
  try {
    await helper.start();
  } catch (e) {
    await helper.remove({ force: true }).catch(() => undefined);
    throw e;
  }
  return {
    stopped: () => stop,
    close: async (c = { measure: true }) => {
      watching = false;
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      try {
        if (c.measure && !stop) reader(measured.map((m) => m.path), (volumes) => {
          const bytes = volumes.reduce((n, v) => n + v.bytes, 0);
          if (bytes > o.limitBytes) judge({ limitBytes: o.limitBytes, bytes, volumes });
        })(await execOutput(helper, measure));
      } finally {
        await helper.remove({ force: true }).catch(() => undefined);
      }
    },
  };
}

type Demuxer = { demuxStream(s: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void };

/** Parses the helper's output; calls `measured` with every volume's bytes, the fullest first, at each "end". */
function reader(paths: string[], measured: (volumes: { path: string; bytes: number }[]) => void): (text: string) => void {
  const sizes = new Map<number, number>();
  let partial = "";
  return (text) => {
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      const m = /^(\d+) (\d*)$/.exec(line);
      if (m) sizes.set(Number(m[1]), Number(m[2] || 0) * 1024);
      else if (line === "end") measured(paths.map((path, i) => ({ path, bytes: sizes.get(i) ?? 0 })).sort((a, b) => b.bytes - a.bytes));
    }
  };
}

/** stdout of one command run in the helper. */
async function execOutput(helper: Docker.Container, command: string): Promise<string> {
  const exec = await helper.exec({ Cmd: ["sh", "-c", command], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (d: Buffer) => chunks.push(d));
  (helper.modem as Demuxer).demuxStream(stream, out, new PassThrough().resume());
  await new Promise<void>((resolve) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", () => resolve());
  });
  return Buffer.concat(chunks).toString("utf8");
}

/** "2 GiB" for whole GiB, else MB: the figure the limit was set in. */
export function sizeText(bytes: number): string {
  const mib = bytes / 1024 ** 2;
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${Math.round(mib)} MB`;
}

