// `npm run bench`: Bosun's costs against their floors, measured in one run on this machine, printed
// as one table and written as JSON to bench/results/. Everything stays on loopback and the
// project's own Docker containers.
//
//   npm run bench                      every part
//   npm run bench -- --only runs,burst  some parts: sandbox, runs, burst, many, setup, chatty
//
// Sizes (environment): BENCH_REPETITIONS (5: sandbox and runs), BENCH_LATENCY_RUNS (20),
// BENCH_BURST_PER_SECOND (200), BENCH_BURST_SECONDS (10), BENCH_BURST_REPETITIONS (3),
// BENCH_BURST_REPOSITORIES (10),
// BENCH_ISSUES (100), BENCH_CONCURRENCY (4), BENCH_MANY_REPETITIONS (3), BENCH_SETUP_REPETITIONS (2),
// BENCH_CHATTY_REPETITIONS (3),
// BENCH_GITHUB_WRITE_INTERVAL_MS (10), BENCH_GITHUB_NOTIFY_INTERVAL_MS (the same),
// BOSUN_AGENT_IMAGE (bosun/agent-base:latest), BOSUN_UNIVERSAL_AGENT_IMAGE (bosun/agent-universal:latest).
// The setup part alone reaches beyond loopback: the real npm registry, through Bosun's egress proxy.
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stats, type Figure } from "./figures.ts";
import { sandboxFigures } from "./sandbox-figures.ts";
import { setupFigures } from "./setup-figures.ts";
import { chattyFigures } from "./chatty-figures.ts";
import { burstFigures, manyIssuesFigures, perRunFigures } from "./run-figures.ts";

const parts = ["sandbox", "runs", "burst", "many", "setup", "chatty"] as const;
type Part = (typeof parts)[number];

const { values } = parseArgs({ options: { only: { type: "string" } } });
const only = values.only ? values.only.split(",").map((s) => s.trim()) : [...parts];
for (const p of only) if (!(parts as readonly string[]).includes(p)) throw new Error(`unknown part "${p}"; the parts are ${parts.join(", ")}`);
const wanted = (p: Part): boolean => only.includes(p);

const num = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, not "${v}"`);
  return n;
};

const settings = {
  image: process.env["BOSUN_AGENT_IMAGE"] ?? "bosun/agent-base:latest",
  repetitions: num("BENCH_REPETITIONS", 5),
  latencyRuns: num("BENCH_LATENCY_RUNS", 20),
  burstPerSecond: num("BENCH_BURST_PER_SECOND", 200),
  burstSeconds: num("BENCH_BURST_SECONDS", 10),
  burstRepetitions: num("BENCH_BURST_REPETITIONS", 3),
  burstRepositories: num("BENCH_BURST_REPOSITORIES", 10),
  issues: num("BENCH_ISSUES", 100),
  concurrency: num("BENCH_CONCURRENCY", 4),
  manyRepetitions: num("BENCH_MANY_REPETITIONS", 3),
  setupRepetitions: num("BENCH_SETUP_REPETITIONS", 2),
  chattyRepetitions: num("BENCH_CHATTY_REPETITIONS", 3),
  universalImage: process.env["BOSUN_UNIVERSAL_AGENT_IMAGE"] ?? "bosun/agent-universal:latest",
  writeIntervalMs: num("BENCH_GITHUB_WRITE_INTERVAL_MS", 10),
  notifyIntervalMs: num("BENCH_GITHUB_NOTIFY_INTERVAL_MS", Number(process.env["BENCH_GITHUB_WRITE_INTERVAL_MS"] || 10)),
};

const version = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
};
const machine = {
  host: hostname(), cpus: cpus().length, cpu: cpus()[0]?.model ?? "unknown", memory_gib: Math.round(totalmem() / 2 ** 30),
  node: process.version, docker: version("docker", ["version", "--format", "{{.Server.Version}}"]),
};

const figures: Figure[] = [];
const started = Date.now();
const step = async (part: Part, f: () => Promise<Figure[]>): Promise<void> => {
  if (!wanted(part)) return;
  const t = Date.now();
  process.stderr.write(`bench: ${part}…\n`);
  figures.push(...await f());
  process.stderr.write(`bench: ${part} done in ${Math.round((Date.now() - t) / 1000)} s\n`);
};
const run = { image: settings.image, writeIntervalMs: settings.writeIntervalMs, notifyIntervalMs: settings.notifyIntervalMs };
await step("sandbox", () => sandboxFigures({ image: settings.image, repetitions: settings.repetitions }));
await step("runs", () => perRunFigures({ ...run, repetitions: settings.repetitions, latencyRuns: settings.latencyRuns }));
await step("burst", () => burstFigures({ ...run, perSecond: settings.burstPerSecond, seconds: settings.burstSeconds, repetitions: settings.burstRepetitions, repositories: settings.burstRepositories }));
await step("many", () => manyIssuesFigures({ ...run, issues: settings.issues, concurrency: settings.concurrency, repetitions: settings.manyRepetitions }));
await step("setup", () => setupFigures({ ...run, universalImage: settings.universalImage, repetitions: settings.setupRepetitions }));
await step("chatty", () => chattyFigures({ ...run, repetitions: settings.chattyRepetitions }));

const rows = figures.map((f) => {
  const s = stats(f.samples);
  const floor = f.floor ? figures.find((x) => x.name === f.floor) : undefined;
  return { name: f.name, unit: f.unit, ...s, floor: f.floor ?? null, ratio_to_floor: floor ? s.median / stats(floor.samples).median : null, note: f.note ?? null, samples: f.samples };
});
const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2));
const width = Math.max(...rows.map((r) => r.name.length), 6);
console.log(`${"figure".padEnd(width)}  ${"n".padStart(4)}  ${"min".padStart(8)}  ${"median".padStart(8)}  ${"p95".padStart(8)}  ${"p99".padStart(8)}  ${"max".padStart(8)}  unit         vs floor (median)`);
for (const r of rows) {
  const ratio = r.ratio_to_floor === null ? "" : `${r.ratio_to_floor.toFixed(2)}×${r.note ? ` (${r.note})` : ""}`;
  console.log(`${r.name.padEnd(width)}  ${String(r.n).padStart(4)}  ${fmt(r.min).padStart(8)}  ${fmt(r.median).padStart(8)}  ${fmt(r.p95).padStart(8)}  ${fmt(r.p99).padStart(8)}  ${fmt(r.max).padStart(8)}  ${r.unit.padEnd(11)}  ${ratio}`);
}
console.log(`(${machine.cpus} × ${machine.cpu}, ${machine.memory_gib} GiB, Node ${machine.node}, Docker ${machine.docker}; Bosun's GitHub writes spaced ${settings.writeIntervalMs} ms, ${settings.notifyIntervalMs} ms for those that notify people; ${Math.round((Date.now() - started) / 1000)} s in all)`);
await mkdir("bench/results", { recursive: true });
const out = join("bench/results", `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await writeFile(out, JSON.stringify({ at: new Date().toISOString(), machine, settings, parts: only, figures: rows }, null, 2) + "\n");
console.log(`written ${out}`);
