// `npm run bench`, the sandbox part: container start-to-exit time per runtime, through Bosun's
// sandbox and as a bare `docker run`, the egress proxy's added latency and throughput against a
// direct connection to the same loopback server, and CONNECTs in bursts of 64 (an install's load)
// with the name lookups they cost. Everything stays on this machine.
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, request, type RequestOptions } from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DockerSandbox } from "../src/sandbox/docker-sandbox.ts";
import { startEgressProxy } from "../src/sandbox/egress/proxy.ts";
import { time, type Figure } from "./figures.ts";

const run = promisify(execFile);

/** Container start to exit through Bosun's sandbox and as a bare `docker run`, per runtime; the egress proxy against a direct connection. */
export async function sandboxFigures(o: { image: string; repetitions: number }): Promise<Figure[]> {
  return [...(await containers(o)), ...(await proxy(o)), ...(await connectBurst(o))];
}

async function containers({ image, repetitions }: { image: string; repetitions: number }): Promise<Figure[]> {
  const figures: Figure[] = [];
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
    const floor = `container start→exit, bare docker run (${runtime})`;
    figures.push({ name: floor, unit: "ms", samples: bare });
    figures.push({ name: `container start→exit, Bosun sandbox (${runtime})`, unit: "ms", samples: bosun, floor });
  }
  await sandbox.cleanup("bench");
  return figures;
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

async function proxy({ repetitions }: { repetitions: number }): Promise<Figure[]> {
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
  await egress.close();
  server.close();
  await rm(dir, { recursive: true, force: true });
  const floor = "HTTP GET 64 KiB, direct to loopback";
  const floorThroughput = "HTTP GET 64 KiB throughput, direct to loopback";
  return [
    { name: floor, unit: "ms/request", samples: direct },
    { name: "HTTP GET 64 KiB, through the egress proxy", unit: "ms/request", samples: proxied, floor },
    { name: "egress proxy added latency", unit: "ms/request", samples: proxied.map((p, i) => p - (direct[i] ?? 0)) },
    { name: floorThroughput, unit: "MiB/s", samples: direct.map((d) => (64 / 1024) / (d / 1000)) },
    { name: "HTTP GET 64 KiB throughput, through the egress proxy", unit: "MiB/s", samples: proxied.map((p) => (64 / 1024) / (p / 1000)), floor: floorThroughput },
  ];
}


/** Time from opening a connection to the tunnel (or TCP connection) being usable. */
function openTimed(open: () => net.Socket, tunnel: string | null): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const s = open();
    s.on("error", reject);
    s.on("connect", () => {
      if (!tunnel) {
        s.destroy();
        resolve(performance.now() - t);
        return;
      }
      s.write(`CONNECT ${tunnel} HTTP/1.1\r\nHost: ${tunnel}\r\n\r\n`);
    });
    let head = "";
    s.on("data", (d: Buffer) => {
      head += d.toString();
      if (!head.includes("\r\n\r\n")) return;
      s.destroy();
      if (head.startsWith("HTTP/1.1 200")) resolve(performance.now() - t);
      else reject(new Error(head.split("\r\n")[0]));
    });
  });
}

/** 64 CONNECTs at once through the proxy to a loopback echo server, by a name the proxy looks up (1 ms per lookup), against 64 direct TCP connects. */
async function connectBurst({ repetitions }: { repetitions: number }): Promise<Figure[]> {
  const burst = 64;
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
  const port = (echo.address() as net.AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), "bosun-bench-"));
  const direct: number[] = [];
  const proxied: number[] = [];
  const lookups: number[] = [];
  for (let i = 0; i < repetitions; i++) {
    let n = 0;
    // A fresh proxy each time, so every burst starts without a kept answer. 127.0.0.1 is listed for the port, so the resolver's loopback answer is allowed.
    const egress = await startEgressProxy({
      socketPath: join(dir, `burst-${i}.sock`),
      rule: { hosts: [`burst.bosun.test:${port}`, `127.0.0.1:${port}`], presets: [] },
      resolve: async () => {
        n++;
        await new Promise((r) => setTimeout(r, 1));
        return ["127.0.0.1"];
      },
    });
    direct.push(...(await Promise.all(Array.from({ length: burst }, () => openTimed(() => net.connect(port, "127.0.0.1"), null)))));
    proxied.push(...(await Promise.all(Array.from({ length: burst }, () => openTimed(() => net.connect(egress.socketPath), `burst.bosun.test:${port}`)))));
    lookups.push(n);
    await egress.close();
  }
  echo.close();
  await rm(dir, { recursive: true, force: true });
  const floor = `TCP connect, ${burst} at once, direct to loopback`;
  return [
    { name: floor, unit: "ms/connection", samples: direct },
    { name: `CONNECT tunnel established, ${burst} at once, through the egress proxy (name looked up by the proxy)`, unit: "ms/connection", samples: proxied, floor },
    { name: `name lookups per burst of ${burst} CONNECTs to one host`, unit: "lookups", samples: lookups },
  ];
}
