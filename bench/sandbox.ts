// `npm run bench` (sandbox part): container start-to-exit time per runtime, through Bosun's
// sandbox and as a bare `docker run`, and the egress proxy's added latency and throughput
// against a direct connection to the same loopback server. Everything stays on this machine.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request, type RequestOptions } from "node:http";
import { hostname, tmpdir, cpus } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DockerSandbox } from "../src/sandbox/docker-sandbox.ts";
import { startEgressProxy } from "../src/sandbox/egress-proxy.ts";

const run = promisify(execFile);
const image = process.env["BOSUN_AGENT_IMAGE"] ?? "bosun/agent-base:latest";
const repetitions = Number(process.env["BENCH_REPETITIONS"] ?? 5);

interface Figure { name: string; unit: string; samples: number[] }
const figures: Figure[] = [];

function stats(xs: number[]): { min: number; median: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0] ?? NaN, median: s[Math.floor(s.length / 2)] ?? NaN, max: s[s.length - 1] ?? NaN };
}

async function time(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function containers(): Promise<void> {
  const sandbox = new DockerSandbox();
  const info = (await sandbox.docker.info()) as { Runtimes?: Record<string, unknown> };
  const runtimes = ["runc", ...(info.Runtimes && "runsc" in info.Runtimes ? ["runsc"] : [])] as ("runc" | "runsc")[];
  for (const runtime of runtimes) {
    const bare: number[] = [];
    const bosun: number[] = [];
    for (let i = 0; i < repetitions; i++) {
      bare.push(await time(() => run("docker", ["run", "--rm", "--network", "none", "--runtime", runtime, image, "true"])));
      bosun.push(await time(() => sandbox.run({ runId: "bench", role: "agent", attempt: i, image, command: "true", volumes: {}, timeoutMs: 60_000, runtime })));
    }
    figures.push({ name: `container start→exit, bare docker run (${runtime})`, unit: "ms", samples: bare });
    figures.push({ name: `container start→exit, Bosun sandbox (${runtime})`, unit: "ms", samples: bosun });
  }
  await sandbox.cleanup("bench");
}

function get(options: RequestOptions): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(options, (res) => {
      let n = 0;
      res.on("data", (d: Buffer) => (n += d.length));
      res.on("end", () => resolve(n));
    });
    req.on("error", reject);
    req.end();
  });
}

async function proxy(): Promise<void> {
  const body = Buffer.alloc(64 * 1024, 120);
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const dir = await mkdtemp(join(tmpdir(), "bosun-bench-"));
  const egress = await startEgressProxy({ socketPath: join(dir, "egress.sock"), rule: { hosts: [`bench.bosun.test:${port}`], presets: [], addresses: { "bench.bosun.test": "127.0.0.1" } } });
  const requests = 200;
  const direct: number[] = [];
  const proxied: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    direct.push((await time(async () => { for (let j = 0; j < requests; j++) await get({ host: "127.0.0.1", port, path: "/", agent: false }); })) / requests);
    proxied.push((await time(async () => { for (let j = 0; j < requests; j++) await get({ socketPath: egress.socketPath, path: `http://bench.bosun.test:${port}/`, headers: { host: `bench.bosun.test:${port}` }, agent: false }); })) / requests);
  }
  figures.push({ name: "HTTP GET 64 KiB, direct to loopback", unit: "ms/request", samples: direct });
  figures.push({ name: "HTTP GET 64 KiB, through the egress proxy", unit: "ms/request", samples: proxied });
  figures.push({ name: "egress proxy added latency", unit: "ms/request", samples: proxied.map((p, i) => p - (direct[i] ?? 0)) });
  figures.push({ name: "egress proxy throughput", unit: "MiB/s", samples: proxied.map((p) => (64 / 1024) / (p / 1000)) });
  await egress.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
}

await containers();
await proxy();
const rows = figures.map((f) => ({ name: f.name, unit: f.unit, ...stats(f.samples) }));
const width = Math.max(...rows.map((r) => r.name.length));
console.log(`${"figure".padEnd(width)}  ${"min".padStart(9)}  ${"median".padStart(9)}  ${"max".padStart(9)}  unit`);
for (const r of rows) console.log(`${r.name.padEnd(width)}  ${r.min.toFixed(2).padStart(9)}  ${r.median.toFixed(2).padStart(9)}  ${r.max.toFixed(2).padStart(9)}  ${r.unit}`);
const bosunRunc = rows.find((r) => r.name.includes("Bosun sandbox (runc)"));
const bareRunc = rows.find((r) => r.name.includes("bare docker run (runc)"));
if (bosunRunc && bareRunc) console.log(`Bosun sandbox / bare docker run (runc, median): ${(bosunRunc.median / bareRunc.median).toFixed(2)}×`);
await mkdir("bench/results", { recursive: true });
const out = join("bench/results", `sandbox-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await writeFile(out, JSON.stringify({ at: new Date().toISOString(), machine: { host: hostname(), cpus: cpus().length }, repetitions, figures: rows }, null, 2));
console.log(`written ${out}`);
