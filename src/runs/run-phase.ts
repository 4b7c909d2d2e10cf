// One sandbox phase (setup, agent, test) with the network and secrets policy gives it: network
// `none`, or `allowlist` through a recording egress proxy on a Unix socket made for this phase;
// and, when the operator set BOSUN_SANDBOX_CA_CERTS, their extra CAs (src/sandbox/ca-certs.ts).
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { secretValues, type Phase, type PhasePolicy } from "../config/org-policy.ts";
import { caVariable, sandboxCaBind, sandboxCaDir, sandboxCaEnv } from "../sandbox/ca-certs.ts";
import type { RunOutcome, RunSpec } from "../sandbox/sandbox.ts";
import { startEgressProxy } from "../sandbox/egress-proxy.ts";
import { forwarderEnv, forwarderScript, noForwarderStatus } from "../sandbox/egress/forwarder.ts";
import { proxyDecisions, sandboxSeconds } from "../ops/metrics.ts";
import { agentCodeSecrets } from "../policy/effective-policy.ts";
import { envPrefix } from "../config/devcontainer.ts";
import type { RunContext } from "./run-context.ts";
import { StepFailure } from "./step-failure.ts";

export function phasePolicy(ctx: RunContext, phase: Phase): PhasePolicy {
  return ctx.policy.phases[phase];
}

/** Runs the phase's container and records its time against the daily sandbox-minute budgets. */
/** `testSetup`: the setup that runs on the agent's commit before its tests (code the agent wrote). */
export async function runPhase(ctx: RunContext, phase: Phase, spec: Omit<RunSpec, "runtime" | "limits" | "binds">, o: { testSetup?: boolean } = {}): Promise<RunOutcome> {
  const started = new Date();
  try {
    return await runPhaseContainer(ctx, phase, spec, o);
  } finally {
    await recordTime(ctx, phase, started);
  }
}

async function recordTime(ctx: RunContext, phase: Phase, started: Date): Promise<void> {
  const seconds = (Date.now() - started.getTime()) / 1000;
  sandboxSeconds.inc({ phase }, seconds);
  await ctx.deps.store.recordSandboxTime(ctx.run, phase, started, seconds).catch((e: unknown) => ctx.log.warn({ err: e }, "could not record sandbox time"));
}

/** The last `n` lines of a phase's output, for the transcript and messages. */
export function lastLines(text: string, n = 30): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

export interface SetupResult { ok: boolean; exitCode: number | null; timedOut: boolean; tail: string; why: string }

/**
 * The repository's setup command in `volume`, recorded before and after: for the agent's workspace
 * (the base commit), or before the tests (`forTests`: the agent's commit, so code the agent wrote).
 */
export async function runSetup(ctx: RunContext, o: { volume: string; command: string; forTests?: { commit: string }; tailLines?: number }): Promise<SetupResult> {
  const { run } = ctx;
  const minutes = ctx.policy.limits.setup_minutes;
  const purpose = o.forTests ? { purpose: "tests" } : {};
  await ctx.transcript.append("command", { phase: "setup", ...purpose, command: o.command, network: phasePolicy(ctx, "setup").network, ...(o.forTests ? { commit: o.forTests.commit } : {}) });
  const setup = await runPhase(ctx, "setup", {
    runId: run.id, role: "setup", attempt: run.epoch, image: ctx.image, command: o.command,
    volumes: { [o.volume]: "/workspace" }, timeoutMs: minutes * 60_000,
  }, { testSetup: o.forTests !== undefined });
  const tail = ctx.redactor.text(lastLines(setup.outputTail, o.tailLines));
  await ctx.transcript.append("command", { phase: "setup", ...purpose, exit_code: setup.exitCode, timed_out: setup.timedOut, output_tail: tail });
  const ok = setup.exitCode === 0 && !setup.timedOut;
  const why = setup.timedOut ? `did not finish within ${minutes} minutes` : `exited with code ${setup.exitCode}`;
  return { ok, exitCode: setup.exitCode, timedOut: setup.timedOut, tail, why };
}

/** Where a phase's egress socket lives on the host: a folder, bound in whole, so a new owner can put a fresh socket where a re-attached container looks. */
export function egressDir(ctx: RunContext, phase: Phase, epoch: number): string {
  return join(ctx.dir, `egress-${phase}-${epoch}`);
}

/**
 * The phase's network around `body`: nothing for `none`; for `allowlist`, a recording egress proxy
 * listening in the phase's socket folder for the container's epoch, closed when `body` ends.
 */
async function withPhaseNetwork<T extends RunOutcome>(ctx: RunContext, phase: Phase, epoch: number, body: (bind: string | null) => Promise<T>): Promise<T> {
  const policy = phasePolicy(ctx, phase);
  if (policy.network === "none") return body(null);
  const dir = egressDir(ctx, phase, epoch);
  await mkdir(dir, { recursive: true });
  const socketPath = join(dir, "sock");
  // A socket a dead owner left: the proxy below takes its place for the container that still uses it.
  await rm(socketPath, { force: true });
  let pending = Promise.resolve();
  const record = (kind: "network" | "dependency_install", payload: Record<string, unknown>): void => {
    pending = pending.then(() => ctx.transcript.append(kind, { phase, ...payload })).catch((e: unknown) => ctx.log.warn({ err: e }, "could not record a network event"));
  };
  const proxy = await startEgressProxy({
    socketPath,
    rule: { hosts: policy.hosts, presets: policy.presets, addresses: policy.addresses },
    onEvent: (e) => {
      proxyDecisions.inc({ phase, decision: e.allowed ? "allowed" : "refused" });
      record("network", { ...e });
    },
    onDependency: (d) => record("dependency_install", { ...d }),
  });
  let outcome: T | null = null;
  try {
    outcome = await body(`${dir}:/bosun/egress`);
    return outcome;
  } finally {
    await proxy.close();
    await pending;
    // A container handed over (or lost with Docker) keeps its folder: the next owner's proxy listens
    // in the same one. The run's scratch folder goes when the run ends.
    if (outcome && !outcome.handedOver) await rm(dir, { recursive: true, force: true });
  }
}

async function runPhaseContainer(ctx: RunContext, phase: Phase, spec: Omit<RunSpec, "runtime" | "limits" | "binds">, o: { testSetup?: boolean }): Promise<RunOutcome> {
  const policy = phasePolicy(ctx, phase);
  // The resolution withheld them already; checked again here, where the values are handed out, so
  // a policy stored before the rule (or resolved without knowing the run is a follow-up) cannot give them.
  const { given, withheld: late, reason } = agentCodeSecrets(phase, policy, { followUp: ctx.run.facts.iteration !== undefined, modelKey: ctx.policy.rules.model.api_key_secret, testSetup: o.testSetup === true });
  const withheld = [...new Set([...(ctx.policy.withheldSecrets?.[phase]?.secrets ?? []), ...late])];
  if (withheld.length) {
    await ctx.transcript.append("policy_decision", { decision: "withheld", rule: `sandbox.phases.${phase}.secrets_reach_agent_code`, phase, withheld, given, reason: ctx.policy.withheldSecrets?.[phase]?.reason ?? reason });
  }
  let secrets: Record<string, string>;
  try {
    secrets = secretValues(given);
  } catch (e) {
    throw new StepFailure({ outcome: `Policy gives the ${phase} phase a secret Bosun does not have, so the phase did not start. An operator must provide it.`, title: "Secrets", detail: (e as Error).message });
  }
  for (const value of Object.values(secrets)) ctx.redactor.add(value);
  if (Object.keys(secrets).length) await ctx.transcript.append("policy_decision", { rule: "secrets", phase, given: Object.keys(secrets) });
  const ca = ctx.deps.sandboxCa ?? null;
  if (ca) await ctx.transcript.append("policy_decision", { rule: "sandbox.ca_certs", decision: "trusted", phase, reason: `${caVariable}: ${ca.certificates} extra certificate authorities`, source: ca.source, certificates: ca.certificates, mounted_at: sandboxCaDir });
  // The dev container's variables, set by the shell before the command (they may read others, like PATH).
  const command = `${envPrefix(ctx.run.facts.devcontainer?.env)}${spec.command}`;
  const base = { ...spec, command, ...ctx.sandboxSettings, env: { ...spec.env, ...(ca ? sandboxCaEnv : {}), ...secrets }, binds: ca ? [sandboxCaBind(ca)] : [] };
  return withPhaseNetwork(ctx, phase, spec.attempt, async (bind) => {
    if (!bind) return ctx.deps.sandbox.run(base);
    const outcome = await ctx.deps.sandbox.run({
      ...base,
      // The forwarder gives the command an ordinary proxy on the container's loopback (see forwarder.ts).
      command: forwarderScript({ pids: base.limits.pids }),
      env: { ...base.env, ...forwarderEnv, BOSUN_PHASE_COMMAND: command },
      binds: [...base.binds, bind],
    });
    if (outcome.exitCode === noForwarderStatus) {
      throw new StepFailure({ outcome: `The image \`${spec.image}\` has neither \`node\` nor \`socat\`, one of which the ${phase} phase's network allowlist needs inside the sandbox. Use an image built from Bosun's agent base.` });
    }
    return outcome;
  });
}

/**
 * Takes over a phase's container that an earlier owner of the run started and that still runs:
 * a fresh proxy where its egress socket was, its output from the start, its exit.
 */
export async function reattachPhase(ctx: RunContext, phase: Phase, container: { id: string; epoch: number; startedAt: Date }, spec: Pick<RunSpec, "timeoutMs" | "inactivityMs" | "onStdoutLine" | "handOver">): Promise<RunOutcome> {
  // Its secrets are redacted already: the run's context learns every phase's secrets when it is made.
  try {
    return await withPhaseNetwork(ctx, phase, container.epoch, () => ctx.deps.sandbox.reattach(container.id, spec));
  } finally {
    // A crashed owner recorded nothing for this container: its time counts from its start; a
    // draining one recorded up to its hand-over.
    const handedOverAt = ctx.run.facts.agentHandedOverAt ? new Date(ctx.run.facts.agentHandedOverAt) : null;
    await recordTime(ctx, phase, handedOverAt && handedOverAt > container.startedAt ? handedOverAt : container.startedAt);
  }
}
