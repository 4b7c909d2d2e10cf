// `npm run bench`, part `chatty`: Bosun's peak memory while an agent prints at the run's transcript
// limits (the defaults: 8 MiB in 64 KiB lines), and far past them (200 MiB), against a quiet run
// of the same repository. Bosun runs as its own process (`src/main.ts`); one run per process, so
// each peak (VmHWM) is that run's.
import { bosunDefaults } from "../src/config/org-policy.ts";
import { isTerminal } from "../src/runs/run.ts";
import { chattyAgentCommand, peakMemoryMiB, until } from "../test/helpers/bosun-process.ts";
import { labelDemoIssue, seedDemoRepo } from "../test/helpers/seed.ts";
import { withCleanUps, type Figure } from "./figures.ts";
import { cluster, type RunBenchOptions } from "./run-figures.ts";

const lineBytes = 64 * 1024;

/** One run whose agent prints `lines` 64 KiB lines (none: the quiet demo agent alone) before its change; Bosun's peak memory. */
async function peakOfOneRun(o: RunBenchOptions, lines: number): Promise<number> {
  return withCleanUps(async (c) => {
    const cl = await cluster(c, o);
    const command = `${lines ? `${chattyAgentCommand(lines, lineBytes)}; ` : ""}node /bosun/agents/patch-agent.mjs`;
    await seedDemoRepo(cl.gh, "chatty", { files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(command)}\ntest:\n  command: npm test\n` } });
    const bosun = await cl.start("chatty");
    cl.gh.setWebhookUrl(bosun.webhookUrl);
    await labelDemoIssue(cl.gh, "chatty");
    const done = await until("the run to end", async () => {
      const [r] = await cl.store.list({ owner: "acme", repo: "chatty" });
      return r && isTerminal(r.state) ? r : null;
    }, 600_000, 250);
    if (done.state !== "succeeded") throw new Error(`the chatty run ended ${done.state}: ${done.outcome ?? ""}`);
    return peakMemoryMiB(bosun);
  });
}

export async function chattyFigures(o: RunBenchOptions & { repetitions: number }): Promise<Figure[]> {
  const atLimit = Math.floor((bosunDefaults.transcript.max_agent_mb * 1024 * 1024) / lineBytes);
  const farPast = 3200;
  const quiet: number[] = [];
  const limit: number[] = [];
  const past: number[] = [];
  // Interleaved, so a slow patch of the machine's time falls on each.
  for (let i = 0; i < o.repetitions; i++) {
    quiet.push(await peakOfOneRun(o, 0));
    limit.push(await peakOfOneRun(o, atLimit));
    past.push(await peakOfOneRun(o, farPast));
  }
  const quietName = "Bosun's peak resident memory, one run, a quiet agent";
  return [
    { name: quietName, unit: "MiB", samples: quiet },
    { name: `Bosun's peak resident memory, one run, the agent printing at its transcript limit (${atLimit} × 64 KiB lines)`, unit: "MiB", samples: limit, floor: quietName, note: "what recording the limit costs" },
    { name: `Bosun's peak resident memory, one run, the agent printing ${Math.round((farPast * lineBytes) / 2 ** 20)} MiB (${farPast} × 64 KiB lines)`, unit: "MiB", samples: past, floor: quietName, note: "what printing past it costs" },
  ];
}
