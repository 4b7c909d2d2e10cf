// running → verifying: the agent works on /workspace in a locked-down container with no network
// and no token; its JSONL events and output go into the transcript.
import { isModelAgent, type EffectivePolicy } from "../../policy/effective-policy.ts";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAgentLine } from "../../agents/command-adapter.ts";
import { bosunDefaults, type ResolvedRules } from "../../config/org-policy.ts";
import type { OverlayLower, RunOutcome } from "../../sandbox/sandbox.ts";
import { diskFields, diskStopText, lastLines, phasePolicy, reattachPhase, runPhase } from "../run-phase.ts";
import { setUpWorkspace } from "../setup.ts";
import { ensureCheckout } from "./checkout.ts";
import type { RunContext } from "../run-context.ts";
import { RunHandedOver, StepFailure } from "../step-failure.ts";

export interface AgentResult { summary?: string; title?: string }

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
    const seen = (await recordedAgentOutput(ctx, working.epoch)).events;
    await ctx.transcript.append("command", { phase: "agent", reattached: true, container_started_by_attempt: working.epoch, started_at: working.startedAt.toISOString(), events_already_recorded: seen });
    const events = await agentEvents(ctx, working.epoch, seen);
    const outcome = await reattachPhase(ctx, "agent", working, { timeoutMs: limits.agent_minutes * 60_000, inactivityMs: limits.inactivity_minutes * 60_000, onStdoutLine: events.onLine, stop: events.stop, ...(deps.handOver ? { handOver: deps.handOver } : {}) });
    await events.settled();
    return finishAgent(ctx, outcome, deps.sandbox.volumeName(run.id, "bosun"), events);
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
  const events = await agentEvents(ctx, run.epoch, 0);
  const outcome = await runPhase(ctx, "agent", {
    runId: run.id, role: "agent", attempt: run.epoch, image: ctx.image, command,
    env: { BOSUN_RUN_ID: run.id, BOSUN_TASK: "/bosun/task.json", ...agentSettings(ctx.policy) },
    volumes: { [workspace]: "/workspace", [bosunVolume]: "/bosun" },
    files,
    timeoutMs: limits.agent_minutes * 60_000,
    inactivityMs: limits.inactivity_minutes * 60_000,
    onStdoutLine: events.onLine,
    stop: events.stop,
    ...(deps.handOver ? { handOver: deps.handOver } : {}),
  });
  await events.settled();
  return finishAgent(ctx, outcome, bosunVolume, events);
}

interface AgentEvents {
  onLine: (line: string) => void;
  /** Waits for the last event to be recorded. */
  settled: () => Promise<void>;
  /** Aborts when the agent passed a transcript limit and the org's policy says to stop it. */
  stop: AbortSignal;
  /** Which limit the agent passed, and what it printed past it (not recorded); null while within. */
  passed: () => { limit: string; events: number; bytes: number } | null;
}

/** The run's transcript limits; a policy stored before they existed gets Bosun's defaults. */
function transcriptRule(ctx: RunContext): ResolvedRules["transcript"] {
  return { ...bosunDefaults.transcript, ...ctx.policy.rules.transcript };
}

/** What the run's agents have recorded (an earlier attempt's, a container being taken over), counted as stored. */
async function recordedAgentOutput(ctx: RunContext, attempt?: number): Promise<{ events: number; bytes: number }> {
  const r = await ctx.deps.pool.query<{ events: string; bytes: string }>(
    `SELECT count(*) AS events, coalesce(sum(octet_length(payload::text)), 0) AS bytes FROM run_events
      WHERE run_id = $1 AND payload->>'source' = 'agent' AND ($2::int IS NULL OR (payload->>'bosun_attempt')::int = $2)`,
    [ctx.run.id, attempt ?? null]);
  return { events: Number(r.rows[0]?.events ?? 0), bytes: Number(r.rows[0]?.bytes ?? 0) };
}

/**
 * The agent's stdout as transcript events, appended in order (the chain keeps them so without
 * blocking the output stream), each marked as the agent's own account (so it cannot pass for one
 * of Bosun's) with the attempt whose container printed it (`bosun_attempt`, which overrides a field
 * of that name the agent printed). `skip` passes over lines an earlier owner recorded already (a
 * re-attached container replays them).
 *
 * The org's `transcript` limits hold per run, counted from what the run's agents recorded before:
 * past either, a line is counted and let go (or, with `on_limit: stop`, the container is killed),
 * so what waits in the chain is never more than the limits themselves, however much is printed.
 */
async function agentEvents(ctx: RunContext, attempt: number, skip: number): Promise<AgentEvents> {
  const rule = transcriptRule(ctx);
  const maxBytes = Math.floor(rule.max_agent_mb * 1024 * 1024);
  let { events, bytes } = await recordedAgentOutput(ctx);
  let passed: { limit: string; events: number; bytes: number } | null = null;
  const stop = new AbortController();
  let pending = Promise.resolve();
  let seen = 0;
  return {
    onLine: (line) => {
      // Past a limit nothing is parsed: a blank line is no event, any other is one more dropped.
      if (passed) {
        if (/\S/.test(line)) {
          passed.events++;
          passed.bytes += Buffer.byteLength(line);
        }
        return;
      }
      const parsed = parseAgentLine(line);
      if (!parsed) return;
      seen++;
      if (seen <= skip) return;
      const size = Buffer.byteLength(line);
      if (events + 1 > rule.max_agent_events || bytes + size > maxBytes) {
        passed = { limit: events + 1 > rule.max_agent_events ? `${rule.max_agent_events} events` : `${rule.max_agent_mb} MiB`, events: 1, bytes: size };
        if (rule.on_limit === "stop") stop.abort();
        return;
      }
      events++;
      bytes += size;
      pending = pending.then(() => ctx.transcript.append(parsed.kind, { ...parsed.payload, source: "agent", bosun_attempt: attempt })).catch((e: unknown) => ctx.log.warn({ err: e }, "could not record an agent event"));
    },
    settled: () => pending,
    stop: stop.signal,
    passed: () => passed,
  };
}

/** The one event that says what an agent printed past the run's transcript limit, and what became of it. */
async function recordDropped(ctx: RunContext, passed: { limit: string; events: number; bytes: number }): Promise<string> {
  const rule = transcriptRule(ctx);
  const mib = (passed.bytes / 1024 / 1024).toFixed(1);
  const what = `The agent printed more than the run's transcript holds (${passed.limit}: the org's \`transcript\` limits)`;
  const message = rule.on_limit === "stop"
    ? `${what}, so it was stopped (\`transcript.on_limit: stop\`).`
    : `${what}; ${passed.events} more lines (${mib} MiB) were not recorded.`;
  await ctx.transcript.append("error", { phase: "agent", message, limit: passed.limit, on_limit: rule.on_limit, dropped_events: passed.events, dropped_bytes: passed.bytes, max_agent_events: rule.max_agent_events, max_agent_mb: rule.max_agent_mb });
  return message;
}

/** After the agent's container ended (started here or taken over): its outcome, then its result file. */
async function finishAgent(ctx: RunContext, outcome: RunOutcome, bosunVolume: string, events: AgentEvents): Promise<void> {
  const { run, deps } = ctx;
  const { limits } = ctx.policy;
  if (outcome.handedOver) {
    await ctx.update({ facts: { agentHandedOverAt: new Date().toISOString() } });
    await ctx.transcript.append("command", { phase: "agent", handed_over: true, container: outcome.containerId, reason: "this Bosun process is shutting down; another takes the agent over" });
    throw new RunHandedOver();
  }
  // Not on a hand-over: the next owner replays the output, drops the same lines and says so once.
  const passed = events.passed();
  const dropped = passed ? await recordDropped(ctx, passed) : null;
  const tail = ctx.redactor.text(lastLines(outcome.outputTail));
  await ctx.update({ facts: { agentExitCode: outcome.exitCode, agentTimedOut: outcome.timedOut, agentOutputTail: tail } });
  await ctx.transcript.append("command", { phase: "agent", exit_code: outcome.exitCode, timed_out: outcome.timedOut, output_tail: tail, ...diskFields(outcome) });
  if (outcome.disk) {
    throw new StepFailure({ outcome: `The agent ${diskStopText(ctx, outcome.disk).why}.`, title: "Last output", detail: tail });
  }
  if (dropped && events.stop.aborted) {
    throw new StepFailure({ outcome: dropped, title: "Last output", detail: tail });
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
  await ctx.stepDone(dropped ? `The agent finished (exit code 0). ${dropped}` : "The agent finished (exit code 0)", { facts: { summary: result.summary, prTitle: result.title } });
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
