// `npm run bench`, the parts that run Bosun itself: a run against its floor, webhook to agent
// container, a burst of webhooks, and many issues at once on one replica and on two. Bosun runs as
// production runs it (`src/main.ts` as its own process) against the offline GitHub on loopback,
// with real Postgres and Docker.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { promisify } from "node:util";
import Docker from "dockerode";
import { sign } from "@octokit/webhooks-methods";
import { isTerminal, type Run } from "../src/runs/run.ts";
import { bundledAgentsDir } from "../src/start-bosun.ts";
import { demoIssue } from "../test/fixtures/demo-repo.ts";
import { peakMemoryMiB, startBosunCluster, until, type BosunCluster, type BosunReplica } from "../test/helpers/bosun-process.ts";
import { seedDemoRepo } from "../test/helpers/seed.ts";
import type { OfflineGitHub } from "../test/offline-github/server.ts";
import type { Delivery } from "../test/offline-github/webhooks.ts";
import { percentile, sleep, withCleanUps, type CleanUps, type Figure } from "./figures.ts";

const run = promisify(execFile);

export interface RunBenchOptions {
  image: string;
  /** Spacing of Bosun's GitHub writes (BOSUN_GITHUB_WRITE_INTERVAL_MS, _NOTIFY_INTERVAL_MS); production's defaults follow GitHub's guidance for github.com. */
  writeIntervalMs: number;
  notifyIntervalMs: number;
}

function clusterEnv(o: RunBenchOptions): Record<string, string> {
  return {
    BOSUN_AGENT_IMAGE: o.image, BOSUN_LEASE_SECONDS: "30", BOSUN_SWEEP_SECONDS: "60",
    BOSUN_GITHUB_WRITE_INTERVAL_MS: String(o.writeIntervalMs), BOSUN_GITHUB_NOTIFY_INTERVAL_MS: String(o.notifyIntervalMs),
  };
}

export async function cluster(c: CleanUps, o: RunBenchOptions, extra: Record<string, string> = {}): Promise<BosunCluster> {
  return startBosunCluster(c, { ...clusterEnv(o), ...extra }, { checkSchemas: false });
}

/** When each agent container started, by run id, as Docker reports it. */
export async function watchAgentStarts(c: CleanUps): Promise<Map<string, number>> {
  const started = new Map<string, number>();
  const stream = (await new Docker().getEvents({ filters: { type: ["container"], event: ["start"], label: ["bosun.role=agent"] } })) as Readable;
  let buffered = "";
  stream.on("data", (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines.filter(Boolean)) {
      const e = JSON.parse(line) as { timeNano: number; Actor: { Attributes: Record<string, string> } };
      const runId = e.Actor.Attributes["bosun.run"];
      if (runId && !started.has(runId)) started.set(runId, e.timeNano / 1e6);
    }
  });
  c.after(() => {
    stream.destroy();
    return Promise.resolve();
  });
  return started;
}

/** The labelled delivery of an issue and when GitHub began sending it. */
function labelDelivery(gh: OfflineGitHub, repo: string, issue: number): { delivery: Delivery; sentAt: number } {
  const d = gh.hooks.deliveries.find((x) => x.event === "issues" && x.action === "labeled"
    && (x.payload["issue"] as { number: number }).number === issue && (x.payload["repository"] as { name: string }).name === repo);
  const first = d?.attempts[0];
  if (!d || !first) throw new Error(`no labelled delivery for acme/${repo}#${issue}`);
  return { delivery: d, sentAt: first.at.getTime() - first.ms };
}

async function openIssue(gh: OfflineGitHub, repo: string, title: string, body = demoIssue.body): Promise<number> {
  return (await gh.as("maya").rest.issues.create({ owner: "acme", repo, title, body })).data.number;
}

async function label(gh: OfflineGitHub, repo: string, issue: number): Promise<void> {
  await gh.as("maya").rest.issues.addLabels({ owner: "acme", repo, issue_number: issue, labels: ["bosun"] });
}

async function runOf(c: BosunCluster, repo: string, issue: number): Promise<Run | undefined> {
  return (await c.store.list({ owner: "acme", repo })).find((r) => r.issueNumber === issue);
}

function pullCreatedAt(gh: OfflineGitHub, repo: string, number: number): number {
  const pr = gh.repo(`acme/${repo}`).issues.get(number);
  if (!pr?.pull) throw new Error(`acme/${repo}#${number} is not a pull request`);
  return pr.createdAt.getTime();
}

/** The floor: what a script with no Bosun would do: clone, a bare `docker run` of the same agent on the same task, commit, push. */
async function floorRun(gh: OfflineGitHub, image: string, attempt: number): Promise<{ total: number; agent: number }> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-floor-"));
  try {
    const workspace = join(dir, "workspace");
    const io = join(dir, "bosun");
    const branch = `floor/${attempt}`;
    const started = performance.now();
    await run("git", ["clone", "-q", gh.cloneUrl("acme/floor", gh.userToken("maya")), workspace]);
    await mkdir(io);
    await writeFile(join(io, "task.json"), JSON.stringify({ issue: { number: attempt, title: demoIssue.title, body: demoIssue.body, comments: [] }, mode: "pull_request", test_command: "npm test" }));
    const agentStarted = performance.now();
    await run("docker", ["run", "--rm", "--network", "none", "--user", "0:0", "-v", `${workspace}:/workspace`, "-v", `${io}:/bosun`, "-v", `${bundledAgentsDir}:/bosun/agents:ro`, image, "node", "/bosun/agents/patch-agent.mjs"]);
    const agent = performance.now() - agentStarted;
    await run("git", ["-C", workspace, "checkout", "-q", "-b", branch]);
    await run("git", ["-C", workspace, "-c", "user.name=floor", "-c", "user.email=floor@bosun.invalid", "commit", "-q", "-am", demoIssue.title]);
    await run("git", ["-C", workspace, "push", "-q", "origin", branch]);
    const total = performance.now() - started;
    const fixed = await gh.fileAt("acme/floor", branch, "src/add.js");
    if (!fixed?.includes("a + b")) throw new Error(`the floor's push did not carry the fix: ${fixed}`);
    return { total, agent };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** One labelled issue taken to a pull request by Bosun, alone on an idle replica. */
export interface BosunRunTimes { total: number; agent: number; toContainer: number; steps: Record<string, number>; run: Run }

/** Where a run's time went: from the label to each state change, then to the pull request. */
const stepNames: Record<string, string> = {
  preparing: "webhook, authorize (GitHub checks, policy)", running: "prepare (clone, workspace volume)",
  verifying: "agent step (setup and agent containers)", awaiting_push_approval: "verify (the diff, then the tests, each in a sandbox)",
  publishing: "held for a person's approval (the bench's approver answers within 150 ms; not in the totals)",
};
const heldStep = stepNames["publishing"] ?? "";

/** `body`: the issue's text (the demo's, with its fix as a ```diff block, by default). */
export async function bosunRun(c: BosunCluster, repo: string, starts: Map<string, number>, title: string, body?: string): Promise<BosunRunTimes> {
  const { gh } = c;
  const issue = await openIssue(gh, repo, title, body);
  await gh.hooks.settled();
  const labelled = Date.now();
  await label(gh, repo, issue);
  const r = await until(`acme/${repo}#${issue} to end`, async () => {
    const x = await runOf(c, repo, issue);
    return x && isTerminal(x.state) ? x : null;
  }, 600_000, 50);
  if (r.state !== "succeeded" || !r.prNumber) throw new Error(`acme/${repo}#${issue} ended ${r.state}: ${r.outcome ?? ""}`);
  const agent = await c.pool.query<{ s: number | null }>("SELECT sum(seconds) AS s FROM sandbox_usage WHERE run_id = $1 AND phase = 'agent'", [r.id]);
  const containerAt = starts.get(r.id);
  if (containerAt === undefined) throw new Error(`Docker reported no agent container start for run ${r.id}`);
  const moves = await c.pool.query<{ at: Date; to: string }>("SELECT at, payload->>'to' AS to FROM run_events WHERE run_id = $1 AND kind = 'state' ORDER BY seq", [r.id]);
  const steps: Record<string, number> = {};
  let previous = labelled;
  for (const m of moves.rows) {
    const name = stepNames[m.to];
    if (name) steps[name] = m.at.getTime() - previous;
    previous = m.at.getTime();
    if (m.to === "publishing") break;
  }
  const pullAt = pullCreatedAt(gh, repo, r.prNumber);
  steps["publish until the pull request (push, PR, check runs)"] = pullAt - previous;
  // The wait for a person (here the bench's approver) is the design, not Bosun's work: it is shown
  // as its own step and left out of the run's total, so the figures compare with the floor's.
  return {
    steps, run: r,
    total: pullAt - labelled - (steps[heldStep] ?? 0),
    agent: Number(agent.rows[0]?.s ?? NaN) * 1000,
    toContainer: containerAt - labelDelivery(gh, repo, issue).sentAt,
  };
}

/** A run against its floor (alternating, so both see the same machine), then more runs for the webhook-to-container latency. */
export async function perRunFigures(o: RunBenchOptions & { repetitions: number; latencyRuns: number }): Promise<Figure[]> {
  return withCleanUps(async (c) => {
    const cl = await cluster(c, o, { BOSUN_CONCURRENCY: "1" });
    await seedDemoRepo(cl.gh, "floor");
    await seedDemoRepo(cl.gh, "bench");
    const replica = await cl.start("bench");
    cl.gh.setWebhookUrl(replica.webhookUrl);
    const starts = await watchAgentStarts(c);
    // One of each first, unmeasured: images and page caches warm, Bosun's first migrations done.
    await floorRun(cl.gh, o.image, 0);
    await bosunRun(cl, "bench", starts, "warm-up");
    const floor: { total: number; agent: number }[] = [];
    const bosun: BosunRunTimes[] = [];
    for (let i = 1; i <= o.repetitions; i++) {
      floor.push(await floorRun(cl.gh, o.image, i));
      bosun.push(await bosunRun(cl, "bench", starts, `${demoIssue.title} (${i})`));
    }
    const latency = bosun.map((b) => b.toContainer);
    for (let i = 0; i < Math.max(0, o.latencyRuns - o.repetitions); i++) latency.push((await bosunRun(cl, "bench", starts, `latency ${i}`)).toContainer);
    const floorName = "floor: git clone + bare docker run of the agent + git push";
    const floorWork = "floor minus its agent run: clone, commit, push";
    return [
      { name: floorName, unit: "ms", samples: floor.map((f) => f.total) },
      { name: "floor: the agent's bare docker run alone", unit: "ms", samples: floor.map((f) => f.agent) },
      { name: floorWork, unit: "ms", samples: floor.map((f) => f.total - f.agent) },
      { name: "Bosun: labelled issue → pull request", unit: "ms", samples: bosun.map((b) => b.total), floor: floorName },
      { name: "Bosun: the agent phase's container", unit: "ms", samples: bosun.map((b) => b.agent) },
      { name: "Bosun overhead: issue → PR minus the agent phase", unit: "ms", samples: bosun.map((b) => b.total - b.agent), floor: floorName, note: "goal ≤ 2×" },
      { name: "Bosun overhead ÷ floor, run by run", unit: "×", samples: bosun.map((b, i) => (b.total - b.agent) / (floor[i]?.total ?? NaN)) },
      { name: "Bosun overhead, against the floor's own work beside its agent", unit: "ms", samples: bosun.map((b) => b.total - b.agent), floor: floorWork, note: "like for like: both without their agent" },
      { name: "webhook sent → agent container running (warm image)", unit: "ms", samples: latency },
      ...Object.keys(bosun[0]?.steps ?? {}).map((step) => ({ name: `Bosun, one step: ${step}`, unit: "ms", samples: bosun.map((b) => b.steps[step] ?? NaN) })),
    ];
  });
}

/** Sends one delivery as GitHub does (a new connection, signed), and times its answer. */
function deliver(url: string, d: Delivery, body: string, signature: string): Promise<{ ms: number; status: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, {
      method: "POST", agent: false,
      headers: {
        "content-type": "application/json", "user-agent": "GitHub-Hookshot/bench", "x-github-event": d.event,
        "x-github-delivery": d.guid, "x-hub-signature-256": signature, "content-length": Buffer.byteLength(body),
      },
    }, (res) => {
      res.resume();
      res.on("end", () => resolve({ ms: performance.now() - started, status: res.statusCode ?? 0 }));
    });
    req.on("error", () => resolve({ ms: performance.now() - started, status: 0 }));
    req.end(body);
  });
}

/**
 * `perSecond` signed `issues.labeled` deliveries a second for `seconds`, sent on a fixed schedule
 * whatever the answers (so a slow answer cannot slow the load), one in ten a redelivery of one sent
 * a second earlier. Then: every distinct delivery recorded once, one run per issue.
 */
export async function burstFigures(o: RunBenchOptions & { perSecond: number; seconds: number; repetitions: number; repositories: number }): Promise<Figure[]> {
  const acks: number[] = [];
  const p50: number[] = [];
  const p99: number[] = [];
  const late: number[] = [];
  for (let rep = 0; rep < o.repetitions; rep++) {
    await withCleanUps(async (c) => {
      const cl = await cluster(c, o);
      const { gh } = cl;
      // Spread over repositories, as an org's labels are: each repository's file is read once.
      const repos = Array.from({ length: o.repositories }, (_, i) => `burst-${i}`);
      for (const r of repos) await seedDemoRepo(gh, r);
      const replica = await cl.start("burst");
      // The issues are made and labelled with GitHub's webhooks off: the benchmark sends the recorded deliveries itself.
      gh.setWebhookUrl(null);
      const total = o.perSecond * o.seconds;
      const distinct = total - Math.floor(total / 10);
      const labelled: { repo: string; n: number }[] = [];
      for (let i = 0; i < distinct; i += 16) {
        labelled.push(...await Promise.all(Array.from({ length: Math.min(16, distinct - i) }, async (_, k) => {
          const repo = repos[(i + k) % repos.length] as string;
          const n = await openIssue(gh, repo, `burst ${i + k}`);
          await label(gh, repo, n);
          return { repo, n };
        })));
      }
      // Shuffled, so consecutive deliveries are for different repositories.
      const deliveries = labelled.map(({ repo, n }) => labelDelivery(gh, repo, n).delivery).sort((a, b) => a.guid.localeCompare(b.guid));
      // The schedule: every tenth send repeats the delivery sent a second before (as GitHub's redelivery would).
      const schedule: Delivery[] = [];
      let next = 0;
      for (let i = 0; i < total; i++) {
        const earlier = schedule[i - o.perSecond];
        schedule.push(i % 10 === 9 && earlier ? earlier : (deliveries[next++] ?? deliveries[0] as Delivery));
      }
      const bodies = new Map<string, { body: string; signature: string }>();
      for (const d of new Set(schedule)) {
        const body = JSON.stringify(d.payload);
        bodies.set(d.guid, { body, signature: await sign(gh.webhookSecret, body) });
      }
      const answers: Promise<{ ms: number; status: number }>[] = [];
      const started = performance.now();
      const gap = 1000 / o.perSecond;
      for (let i = 0; i < schedule.length; i++) {
        const due = started + i * gap;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        const d = schedule[i] as Delivery;
        const b = bodies.get(d.guid) as { body: string; signature: string };
        answers.push(deliver(replica.webhookUrl, d, b.body, b.signature));
      }
      const results = await Promise.all(answers);
      const failed = results.filter((r) => r.status < 200 || r.status >= 300);
      if (failed.length) throw new Error(`${failed.length} of ${results.length} deliveries were not accepted: ${[...new Set(failed.map((f) => f.status))].join(", ")}`);
      // GitHub's webhook client (Octokit's middleware in Probot) answers 202 when a handler takes over 9 s and lets it finish:
      // such a delivery is recorded a little later, so "lost" is judged once the handlers are done.
      const expected = new Set(schedule.map((d) => d.guid)).size;
      const count = async (): Promise<{ deliveries: number; runs: number; issues: number }> => {
        const r = await cl.pool.query<{ deliveries: string; runs: string; issues: string }>(
          "SELECT (SELECT count(*) FROM deliveries WHERE event = 'issues' AND action = 'labeled') AS deliveries, count(*) AS runs, count(DISTINCT (repo, issue_number)) AS issues FROM runs");
        return { deliveries: Number(r.rows[0]?.deliveries), runs: Number(r.rows[0]?.runs), issues: Number(r.rows[0]?.issues) };
      };
      const settled = await until("every delivery to be recorded", async () => {
        const n = await count();
        return n.deliveries >= expected ? n : null;
      }, 120_000, 250).catch(() => count());
      if (settled.deliveries !== expected) {
        const problems = replica.output().split("\n").filter((l) => /"level":(40|50|60)/.test(l)).slice(0, 5).join("\n");
        throw new Error(`${expected} distinct deliveries sent, ${settled.deliveries} recorded; Bosun's first warnings:\n${problems}`);
      }
      if (settled.runs !== expected || settled.issues !== expected) throw new Error(`${expected} issues labelled, ${settled.runs} runs for ${settled.issues} issues`);
      late.push(results.filter((r) => r.status === 202).length);
      const ms = results.map((r) => r.ms);
      acks.push(...ms);
      p50.push(percentile(ms, 50));
      p99.push(percentile(ms, 99));
    });
  }
  const what = `${o.perSecond} deliveries/s for ${o.seconds} s, ${o.repositories} repositories`;
  return [
    { name: `webhook acknowledgement, ${what}, every delivery`, unit: "ms", samples: acks },
    { name: `webhook acknowledgement p50 per burst (${what})`, unit: "ms", samples: p50 },
    { name: `webhook acknowledgement p99 per burst (${what})`, unit: "ms", samples: p99 },
    { name: `deliveries answered 202 (handler still busy after 9 s) per burst (${what})`, unit: "deliveries", samples: late },
  ];
}

/** `issues` issues labelled at once (webhooks held, then released together) on `replicas` replicas working `concurrency` runs each. */
async function manyIssuesOnce(o: RunBenchOptions & { issues: number; replicas: number; concurrency: number }): Promise<{ seconds: number; rss: number; connections: number }> {
  return withCleanUps(async (c) => {
    const cl = await cluster(c, o, { BOSUN_CONCURRENCY: String(o.concurrency) });
    const { gh } = cl;
    await seedDemoRepo(gh, "many");
    const replicas: BosunReplica[] = [];
    for (let i = 0; i < o.replicas; i++) replicas.push(await cl.start(`many-${i}`));
    // One webhook URL, as behind a load balancer; the replicas share the work through Postgres.
    gh.setWebhookUrl(replicas[0]?.webhookUrl ?? null);
    gh.hooks.pause();
    const numbers: number[] = [];
    for (let i = 0; i < o.issues; i++) {
      const n = await openIssue(gh, "many", `${demoIssue.title} (${i})`);
      await label(gh, "many", n);
      numbers.push(n);
    }
    // Bosun's connections (named "bosun"), sampled while the runs work.
    let sampling = true;
    let connections = 0;
    const sampler = (async () => {
      while (sampling) {
        const r = await cl.pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bosun'");
        connections = Math.max(connections, Number(r.rows[0]?.n ?? 0));
        await sleep(100);
      }
    })();
    const released = Date.now();
    gh.hooks.resume();
    const runs = await until("every run to end", async () => {
      const all = await cl.store.list({ owner: "acme", repo: "many" });
      return all.length >= o.issues && all.every((r) => isTerminal(r.state)) ? all : null;
    }, 3_600_000, 250);
    sampling = false;
    await sampler;
    const failed = runs.filter((r) => r.state !== "succeeded" || !r.prNumber);
    if (failed.length) throw new Error(`${failed.length} runs did not open a pull request: ${failed.slice(0, 3).map((r) => `#${r.issueNumber} ${r.state} ${r.outcome ?? ""}`).join("; ")}`);
    const lastPull = Math.max(...runs.map((r) => pullCreatedAt(gh, "many", r.prNumber as number)));
    const rss = Math.max(...await Promise.all(replicas.map(peakMemoryMiB)));
    return { seconds: (lastPull - released) / 1000, rss, connections };
  });
}

export async function manyIssuesFigures(o: RunBenchOptions & { issues: number; concurrency: number; repetitions: number }): Promise<Figure[]> {
  const one: { seconds: number; rss: number; connections: number }[] = [];
  const two: typeof one = [];
  // Alternating, so a slow patch of the machine's time falls on both.
  for (let i = 0; i < o.repetitions; i++) {
    one.push(await manyIssuesOnce({ ...o, replicas: 1 }));
    two.push(await manyIssuesOnce({ ...o, replicas: 2 }));
  }
  const what = `${o.issues} issues labelled at once, concurrency ${o.concurrency}`;
  const oneName = `${what}, one replica: time to the last pull request`;
  return [
    { name: oneName, unit: "s", samples: one.map((x) => x.seconds) },
    { name: `${what}, one replica: pull requests per minute`, unit: "PR/min", samples: one.map((x) => o.issues / (x.seconds / 60)) },
    { name: `${what}, one replica: Bosun's peak resident memory`, unit: "MiB", samples: one.map((x) => x.rss) },
    { name: `${what}, one replica: Postgres connections (most at once)`, unit: "connections", samples: one.map((x) => x.connections) },
    { name: `${what}, two replicas: time to the last pull request`, unit: "s", samples: two.map((x) => x.seconds), floor: oneName, note: "below 1× is faster than one replica" },
    { name: `${what}, two replicas: pull requests per minute`, unit: "PR/min", samples: two.map((x) => o.issues / (x.seconds / 60)) },
    { name: `${what}, two replicas: peak resident memory of either`, unit: "MiB", samples: two.map((x) => x.rss) },
    { name: `${what}, two replicas: Postgres connections (most at once, both)`, unit: "connections", samples: two.map((x) => x.connections) },
  ];
}
