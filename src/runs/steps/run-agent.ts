// running → verifying: the agent works on /workspace in a locked-down container with no network
// and no token; its JSONL events and output go into the transcript.
import { isModelAgent, type EffectivePolicy } from "../../policy/effective-policy.ts";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAgentLine } from "../../agents/command-adapter.ts";
import { readTranscript } from "../../audit/transcript.ts";
import type { OverlayLower, RunOutcome } from "../../sandbox/sandbox.ts";
import { diskFields, diskStopText, lastLines, phasePolicy, reattachPhase, runPhase } from "../run-phase.ts";
import { setUpWorkspace } from "../setup.ts";
import { ensureCheckout } from "./checkout.ts";
import type { RunContext } from "../run-context.ts";
import { RunHandedOver, StepFailure } from "../step-failure.ts";

export interface AgentResult { summary?: string; title?: string }

const maxAgentEvents = 20_000;

export async function runAgent(ctx: RunContext): Promise<void> {
  const { run, deps } = ctx;
  const task = run.facts.task;
  const config = run.facts.config;
  const { limits, agent } = ctx.policy;
  if (!task || !config) throw new Error("[bosun/runs] the run reached the agent step without a task");
  // An agent an earlier owner started and that still works: take it over rather than start again.
  const working = await deps.sandbox.findRunning(run.id, "agent");
  if (working) {
    await ctx.update({ facts: { adoptedAgent: { containerId: working.id, startedBy: working.epoch, by: run.epoch } } });
    // Its output is replayed from the first line; what the earlier owner recorded is not recorded twice.
    const seen = (await readTranscript(deps.pool, run.id)).filter((e) => e.payload["source"] === "agent" && e.payload["bosun_attempt"] === working.epoch).length;
    await ctx.transcript.append("command", { phase: "agent", reattached: true, container_started_by_attempt: working.epoch, started_at: working.startedAt.toISOString(), events_already_recorded: seen });
    const events = agentEvents(ctx, working.epoch, seen);
    const outcome = await reattachPhase(ctx, "agent", working, { timeoutMs: limits.agent_minutes * 60_000, inactivityMs: limits.inactivity_minutes * 60_000, onStdoutLine: events.onLine, ...(deps.handOver ? { handOver: deps.handOver } : {}) });
    await events.settled();
    return finishAgent(ctx, outcome, deps.sandbox.volumeName(run.id, "bosun"));
  }
  // A fresh workspace for every attempt: a repeated step must not start from a killed agent's half-done edits.
  const checkout = await ensureCheckout(ctx);
  const freshWorkspace = async (over?: OverlayLower): Promise<string> => {
    await deps.sandbox.removeVolume(run.id, "workspace");
    const volume = await deps.sandbox.createVolume(run.id, "workspace", over ? { over } : {});
    await deps.sandbox.seedVolume({ runId: run.id, image: deps.env.BOSUN_AGENT_IMAGE, volume, mountPath: "/workspace", hostDir: checkout });
    return volume;
  };
  const bosunVolume = await deps.sandbox.createVolume(run.id, "bosun");
  const agents = await readdir(deps.bundledAgentsDir);
  const files = [
    { path: "/bosun/task.json", content: JSON.stringify(task, null, 2) },
    ...(await Promise.all(agents.map(async (name) => ({ path: `/bosun/agents/${name}`, content: await readFile(join(deps.bundledAgentsDir, name), "utf8") })))),
  ];
  let workspace: string;
  if (config.setup.command) {
    const setup = await setUpWorkspace(ctx, { command: config.setup.command, checkout, commit: run.baseSha ?? "HEAD", fresh: freshWorkspace });
    workspace = setup.volume;
    if (!setup.ok) throw new StepFailure({ outcome: `The setup command \`${config.setup.command}\` ${setup.why}, so the agent did not start.`, title: "Setup output", detail: setup.tail });
    await ctx.stepDone(setup.cached ? `Set up the workspace from the setup cache: \`${config.setup.command}\` did not need to run` : `Set up the workspace: \`${config.setup.command}\``, { facts: { setupLeftovers: setup.leftovers } });
  } else {
    workspace = await freshWorkspace();
  }
  const command = agent.command;
  await ctx.transcript.append("command", { phase: "agent", command, image: ctx.image, network: phasePolicy(ctx, "agent").network });
  const events = agentEvents(ctx, run.epoch, 0);
  const outcome = await runPhase(ctx, "agent", {
    runId: run.id, role: "agent", attempt: run.epoch, image: ctx.image, command,
    env: { BOSUN_RUN_ID: run.id, BOSUN_TASK: "/bosun/task.json", ...agentSettings(ctx.policy) },
    volumes: { [workspace]: "/workspace", [bosunVolume]: "/bosun" },
    files,
    timeoutMs: limits.agent_minutes * 60_000,
    inactivityMs: limits.inactivity_minutes * 60_000,
    onStdoutLine: events.onLine,
    ...(deps.handOver ? { handOver: deps.handOver } : {}),
  });
  await events.settled();
  return finishAgent(ctx, outcome, bosunVolume);
}

/**
 * The agent's stdout as transcript events, appended in order (the chain keeps them so without
 * blocking the output stream), each marked as the agent's own account (so it cannot pass for one
 * of Bosun's) with the attempt whose container printed it (`bosun_attempt`, which overrides a field of that name the agent printed), capped for a chatty agent. `skip`
 * passes over lines an earlier owner recorded already (a re-attached container replays them).
 */
function agentEvents(ctx: RunContext, attempt: number, skip: number): { onLine: (line: string) => void; settled: () => Promise<void> } {
  let pending = Promise.resolve();
  let seen = 0;
  return {
    onLine: (line) => {
      const parsed = parseAgentLine(line);
      if (!parsed) return;
      seen++;
      if (seen <= skip) return;
      if (seen > maxAgentEvents) {
        if (seen === maxAgentEvents + 1) pending = pending.then(() => ctx.transcript.append("error", { phase: "agent", message: `the agent printed more than ${maxAgentEvents} events; the rest are not recorded` }));
        return;
      }
      pending = pending.then(() => ctx.transcript.append(parsed.kind, { ...parsed.payload, source: "agent", bosun_attempt: attempt })).catch((e: unknown) => ctx.log.warn({ err: e }, "could not record an agent event"));
    },
    settled: () => pending,
  };
}

/** After the agent's container ended (started here or taken over): its outcome, then its result file. */
async function finishAgent(ctx: RunContext, outcome: RunOutcome, bosunVolume: string): Promise<void> {
  const { run, deps } = ctx;
  const { limits } = ctx.policy;
  if (outcome.handedOver) {
    await ctx.update({ facts: { agentHandedOverAt: new Date().toISOString() } });
    await ctx.transcript.append("command", { phase: "agent", handed_over: true, container: outcome.containerId, reason: "this Bosun process is shutting down; another takes the agent over" });
    throw new RunHandedOver();
  }
  const tail = ctx.redactor.text(lastLines(outcome.outputTail));
  await ctx.update({ facts: { agentExitCode: outcome.exitCode, agentTimedOut: outcome.timedOut, agentOutputTail: tail } });
  await ctx.transcript.append("command", { phase: "agent", exit_code: outcome.exitCode, timed_out: outcome.timedOut, output_tail: tail, ...diskFields(outcome) });
  if (outcome.disk) {
    throw new StepFailure({ outcome: `The agent ${diskStopText(ctx, outcome.disk).why}.`, title: "Last output", detail: tail });
  }
  if (outcome.inactive) {
    throw new StepFailure({ outcome: `The agent printed nothing for ${limits.inactivity_minutes} minutes and was stopped.`, title: "Last output", detail: tail });
  }
  if (outcome.timedOut) {
    throw new StepFailure({ outcome: `The agent did not finish within ${limits.agent_minutes} minutes and was stopped.`, title: "Last output", detail: tail });
  }
  if (outcome.exitCode !== 0) {
    throw new StepFailure({ outcome: `The agent exited with code ${outcome.exitCode}.`, title: "Last output", detail: tail });
  }
  const raw = await deps.sandbox.readFile({ runId: run.id, image: deps.env.BOSUN_AGENT_IMAGE, volume: bosunVolume, mountPath: "/bosun", path: "/bosun/result.json", maxBytes: 256 * 1024 });
  let result: AgentResult = {};
  if (raw?.truncated) await ctx.transcript.append("error", { phase: "agent", message: "/bosun/result.json is larger than 256 KiB; ignored" });
  else if (raw) {
    try {
      const parsed = JSON.parse(raw.content) as Record<string, unknown>;
      result = {
        ...(typeof parsed["summary"] === "string" ? { summary: parsed["summary"].slice(0, 20000) } : {}),
        ...(typeof parsed["title"] === "string" ? { title: parsed["title"].split("\n")[0]?.slice(0, 200) } : {}),
      };
    } catch {
      await ctx.transcript.append("error", { phase: "agent", message: "/bosun/result.json is not JSON; ignored" });
    }
  }
  await ctx.stepDone("The agent finished (exit code 0)", { facts: { summary: result.summary, prTitle: result.title } });
  await ctx.moveTo("verifying");
}

/** What a model agent (builtin, codex, claude) reads besides its task: the org's model, and the name of the secret holding its key. */
function agentSettings(policy: EffectivePolicy): Record<string, string> {
  if (!isModelAgent(policy.agent.kind)) return {};
  const m = policy.rules.model;
  return {
    BOSUN_MODEL_BASE_URL: m.base_url ?? "",
    BOSUN_MODEL: m.name ?? "",
    ...(m.api_key_secret ? { BOSUN_MODEL_API_KEY_ENV: m.api_key_secret } : {}),
    BOSUN_AGENT_MAX_STEPS: String(m.max_steps),
    BOSUN_AGENT_MAX_TOKENS: String(m.max_tokens),
    // A model that stops answering is reported by the agent itself, before Bosun's inactivity limit would stop it wordlessly.
    BOSUN_MODEL_TIMEOUT_SECONDS: String(Math.max(5, Math.min(300, Math.floor(policy.limits.inactivity_minutes * 60) - 5))),
  };
}
