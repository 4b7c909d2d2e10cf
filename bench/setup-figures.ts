// `npm run bench -- --only setup`: a real npm repository (about 350 packages in its lock file,
// fetched from the real npm registry through Bosun's egress proxy with the host's CA bundle, as
// behind a company's TLS-inspecting proxy) taken from a labelled issue to a pull request twice:
// the first run installs and saves the setup cache, the second restores it. The floor is the same
// work by hand on the same machine: `npm ci` with an empty npm cache, the same agent in a bare
// `docker run`, then `npm test` in another.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { readTranscript, type TranscriptEvent } from "../src/audit/transcript.ts";
import { bundledAgentsDir } from "../src/start-bosun.ts";
import { npmRepo } from "../test/fixtures/real-repos.ts";
import { seedRepo, unifiedDiff } from "../test/helpers/seed.ts";
import { withCleanUps, type Figure } from "./figures.ts";
import { bosunRun, cluster, watchAgentStarts, type RunBenchOptions } from "./run-figures.ts";

const exec = promisify(execFile);
const hostBundle = "/etc/ssl/certs/ca-certificates.crt";
/** The project's Node 24 first: the floor's npm runs on the Node the image has. */
const nodePath = `${join(process.cwd(), "node_modules", ".bin")}:${process.env["PATH"] ?? ""}`;

export interface SetupBenchOptions extends RunBenchOptions {
  /** The image the repository runs in (Node 24): the universal image. */
  universalImage: string;
  repetitions: number;
}

const repo = npmRepo();
const issueBody = `${repo.issue.text}\n\nThe fix:\n\n\`\`\`diff\n${unifiedDiff(repo.files, repo.fixed)}\`\`\`\n`;

async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** By hand: `npm ci` on the host with an empty cache, the agent in a bare `docker run`, `npm test` in another. */
async function floorRun(image: string): Promise<{ ci: number; agent: number; test: number }> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-setup-floor-"));
  try {
    const workspace = join(dir, "workspace");
    const io = join(dir, "bosun");
    await writeFiles(workspace, repo.files);
    await exec("git", ["init", "-q"], { cwd: workspace });
    await exec("git", ["add", "-A"], { cwd: workspace });
    await exec("git", ["-c", "user.name=floor", "-c", "user.email=floor@bosun.invalid", "commit", "-q", "-m", "files"], { cwd: workspace });
    await mkdir(io);
    await writeFile(join(io, "task.json"), JSON.stringify({ issue: { number: 1, title: repo.issue.title, body: issueBody, comments: [] }, mode: "pull_request", test_command: repo.test }));
    let t = performance.now();
    await exec("npm", ["ci", "--no-audit", "--no-fund", "--cache", join(dir, "npm-cache")], { cwd: workspace, env: { ...process.env, PATH: nodePath }, maxBuffer: 64 * 1024 * 1024 });
    const ci = performance.now() - t;
    const docker = ["run", "--rm", "--network", "none", "--user", "0:0", "-v", `${workspace}:/workspace`, "-w", "/workspace"];
    t = performance.now();
    await exec("docker", [...docker, "-v", `${io}:/bosun`, "-v", `${bundledAgentsDir}:/bosun/agents:ro`, image, "node", "/bosun/agents/patch-agent.mjs"], { maxBuffer: 64 * 1024 * 1024 });
    const agent = performance.now() - t;
    t = performance.now();
    const tested = await exec("docker", [...docker, image, "sh", "-c", repo.test], { maxBuffer: 64 * 1024 * 1024 });
    const test = performance.now() - t;
    if (!repo.passes.test(tested.stdout)) throw new Error(`the floor's tests did not pass after the fix:\n${tested.stdout.slice(-2000)}`);
    return { ci, agent, test };
  } finally {
    // node_modules written by root in the container: removed the same way.
    await exec("docker", ["run", "--rm", "--network", "none", "--user", "0:0", "-v", `${dir}:/d`, image, "rm", "-rf", "/d/workspace"]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

const isSetup = (e: TranscriptEvent, purpose?: string) => e.kind === "command" && e.payload["phase"] === "setup" && e.payload["purpose"] === purpose;

/** What a run's transcript says of its setups: how long the agent's took, the cache's save or restore, the proxy's traffic. */
function setupFacts(events: TranscriptEvent[]) {
  const started = events.find((e) => isSetup(e) && typeof e.payload["command"] === "string" && e.payload["cache"] === undefined);
  const ended = events.find((e) => isSetup(e) && "exit_code" in e.payload);
  const cache = (decision: string, purpose?: string) => events.find((e) => isSetup(e, purpose) && e.payload["cache"] === decision)?.payload;
  const network = events.filter((e) => e.kind === "network" && e.payload["phase"] === "setup");
  return {
    ran: started && ended ? ended.at.getTime() - started.at.getTime() : null,
    saved: cache("saved"), restored: cache("restored"), testsRestored: cache("restored", "tests"),
    connections: network.filter((e) => e.payload["allowed"] === true).length,
    refused: network.filter((e) => e.payload["allowed"] !== true).length,
    mibDown: network.reduce((n, e) => n + Number(e.payload["bytesDown"] ?? 0), 0) / 2 ** 20,
    packages: events.filter((e) => e.kind === "dependency_install").length,
  };
}

export async function setupFigures(o: SetupBenchOptions): Promise<Figure[]> {
  return withCleanUps(async (c) => {
    const cl = await cluster(c, o, { BOSUN_CONCURRENCY: "1", BOSUN_SANDBOX_CA_CERTS: hostBundle });
    const replica = await cl.start("bench");
    cl.gh.setWebhookUrl(replica.webhookUrl);
    const starts = await watchAgentStarts(c);
    const floors: { ci: number; agent: number; test: number }[] = [];
    const first: { total: number; facts: ReturnType<typeof setupFacts> }[] = [];
    const cached: { total: number; facts: ReturnType<typeof setupFacts> }[] = [];
    for (let i = 1; i <= o.repetitions; i++) {
      floors.push(await floorRun(o.universalImage));
      // A new repository each time: its first run finds no cache.
      const name = `npm-${i}`;
      await seedRepo(cl.gh, name, { files: { ...repo.files, ".github/bosun.yml": `image: ${o.universalImage}\n${repo.files[".github/bosun.yml"] ?? ""}` }, protect: true });
      for (const [list, title] of [[first, "first run"], [cached, "cached run"]] as const) {
        const r = await bosunRun(cl, name, starts, `${repo.issue.title} (${title} ${i})`, issueBody);
        const facts = setupFacts(await readTranscript(cl.pool, r.run.id));
        if (title === "first run" && !facts.saved) throw new Error(`the first run of acme/${name} saved no setup cache`);
        if (title === "cached run" && !facts.restored) throw new Error(`the second run of acme/${name} did not restore the setup cache`);
        list.push({ total: r.total, facts });
      }
    }
    const floorName = "floor: npm ci (empty npm cache) + the agent's bare docker run + npm test";
    const floorCi = "floor: npm ci by hand, empty npm cache";
    const seconds = (v: unknown): number => Number(v) * 1000;
    return [
      { name: floorName, unit: "ms", samples: floors.map((f) => f.ci + f.agent + f.test) },
      { name: floorCi, unit: "ms", samples: floors.map((f) => f.ci) },
      { name: "floor: the agent (patch and its npm test) in a bare docker run", unit: "ms", samples: floors.map((f) => f.agent) },
      { name: "floor: npm test in a bare docker run", unit: "ms", samples: floors.map((f) => f.test) },
      { name: "Bosun, npm repository: labelled issue → pull request, first run (installs, saves the cache)", unit: "ms", samples: first.map((r) => r.total), floor: floorName },
      { name: "Bosun, npm repository: labelled issue → pull request, cached run", unit: "ms", samples: cached.map((r) => r.total), floor: floorName },
      { name: "Bosun: npm ci in the setup sandbox, through the egress proxy (first run)", unit: "ms", samples: first.map((r) => r.facts.ran ?? NaN), floor: floorCi },
      { name: "Bosun: saving the setup cache (first run)", unit: "ms", samples: first.map((r) => seconds(r.facts.saved?.["seconds"])) },
      { name: "Bosun: the setup cache's size", unit: "MiB", samples: first.map((r) => Number(r.facts.saved?.["bytes"]) / 2 ** 20) },
      { name: "Bosun: restoring the setup cache instead of npm ci (cached run, agent's workspace)", unit: "ms", samples: cached.map((r) => seconds(r.facts.restored?.["seconds"])), floor: floorCi, note: "goal: a small fraction" },
      { name: "Bosun: restoring it for the tests' sandbox", unit: "ms", samples: [...first, ...cached].map((r) => seconds(r.facts.testsRestored?.["seconds"])) },
      { name: "egress proxy, first run's setup: connections allowed", unit: "connections", samples: first.map((r) => r.facts.connections) },
      { name: "egress proxy, first run's setup: connections refused or failed", unit: "connections", samples: first.map((r) => r.facts.refused) },
      { name: "egress proxy, first run's setup: received", unit: "MiB", samples: first.map((r) => r.facts.mibDown) },
      { name: "egress proxy, first run's setup: package downloads recognised", unit: "packages", samples: first.map((r) => r.facts.packages) },
    ];
  });
}
