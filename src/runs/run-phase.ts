// One sandbox phase (setup, agent, test) under the run's policy: the secrets it is given or
// withheld, its network (`none`, or an `allowlist` the sandbox enforces through a recording
// egress proxy, whose every request lands in the transcript), the operator's extra CAs
// (BOSUN_SANDBOX_CA_CERTS), and its time against the daily sandbox-minute budgets.
import { secretValues, type Phase, type PhasePolicy } from "../config/org-policy.ts";
import { caVariable, sandboxCaDir } from "../sandbox/ca-certs.ts";
import { NoForwarderError, type ContainerSpec, type DiskStop, type RunOutcome, type RunSpec } from "../sandbox/sandbox.ts";
import { sizeText } from "../sandbox/disk-watch.ts";
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
export async function runPhase(ctx: RunContext, phase: Phase, spec: Omit<ContainerSpec, "runtime" | "limits">, o: { testSetup?: boolean } = {}): Promise<RunOutcome> {
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
  await ctx.transcript.append("command", { phase: "setup", ...purpose, exit_code: setup.exitCode, timed_out: setup.timedOut, output_tail: tail, ...diskFields(setup) });
  const ok = setup.exitCode === 0 && !setup.timedOut && !setup.disk;
  const why = setup.disk ? diskStopText(ctx, setup.disk).why : setup.timedOut ? `did not finish within ${minutes} minutes` : `exited with code ${setup.exitCode}`;
  return { ok, exitCode: setup.exitCode, timedOut: setup.timedOut, tail, why };
}

/** Why a phase was stopped for its disk, in words: `why` follows a subject ("The agent …"), `limit` names the rule and its source. */
export function diskStopText(ctx: RunContext, disk: DiskStop): { why: string; limit: string } {
  const source = ctx.run.facts.policySources?.["limits.disk_mb"] ?? "the operator's BOSUN_SANDBOX_DISK_MB";
  const limit = `the limit is \`sandbox.limits.disk_mb\`, ${sizeText(disk.limitBytes)}, from ${source}`;
  const fullest = disk.volumes[0];
  if (disk.unmeasured) return { why: `was stopped because its disk use could no longer be measured (${disk.unmeasured}; ${limit})`, limit };
  return { why: `wrote more than ${sizeText(disk.limitBytes)} to ${fullest?.path ?? "its volumes"} (${sizeText(disk.bytes)} when it was stopped; ${limit}) and was stopped`, limit };
}

/** The transcript's record of a disk stop. */
export function diskFields(outcome: RunOutcome): Record<string, unknown> {
  return outcome.disk ? { disk_limit_bytes: outcome.disk.limitBytes, disk_bytes: outcome.disk.bytes, disk_volumes: outcome.disk.volumes, ...(outcome.disk.unmeasured ? { disk_unmeasured: outcome.disk.unmeasured } : {}) } : {};
}

/**
 * The phase's network as the sandbox takes it, with its events recorded in the transcript (in
 * order; `settled` waits for the last) and counted.
 */
function phaseNetwork(ctx: RunContext, phase: Phase): { request: Pick<RunSpec, "network" | "onNetworkEvent" | "onDependency">; settled: () => Promise<void> } {
  const policy = phasePolicy(ctx, phase);
  if (policy.network === "none") return { request: { network: { mode: "none" } }, settled: () => Promise.resolve() };
  let pending = Promise.resolve();
  const record = (kind: "network" | "dependency_install", payload: Record<string, unknown>): void => {
    pending = pending.then(() => ctx.transcript.append(kind, { phase, ...payload })).catch((e: unknown) => ctx.log.warn({ err: e }, "could not record a network event"));
  };
  return {
    request: {
      network: { mode: "allowlist", rule: { hosts: policy.hosts, presets: policy.presets, addresses: policy.addresses }, hostDir: ctx.dir },
      onNetworkEvent: (e) => {
        proxyDecisions.inc({ phase, decision: e.allowed ? "allowed" : "refused" });
        record("network", { ...e });
      },
      onDependency: (d) => record("dependency_install", { ...d }),
    },
    settled: () => pending,
  };
}

async function runPhaseContainer(ctx: RunContext, phase: Phase, spec: Omit<ContainerSpec, "runtime" | "limits">, o: { testSetup?: boolean }): Promise<RunOutcome> {
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
  const network = phaseNetwork(ctx, phase);
  try {
    return await ctx.deps.sandbox.run({ ...spec, command, ...ctx.sandboxSettings, secrets, ca, ...network.request });
  } catch (e) {
    if (e instanceof NoForwarderError) {
      throw new StepFailure({ outcome: `The image \`${spec.image}\` has neither \`node\` nor \`socat\`, one of which the ${phase} phase's network allowlist needs inside the sandbox. Use an image built from Bosun's agent base.` });
    }
    throw e;
  } finally {
    await network.settled();
  }
}

/**
 * Takes over a phase's container that an earlier owner of the run started and that still runs:
 * its network served again, its output from the start, its exit.
 */
export async function reattachPhase(ctx: RunContext, phase: Phase, container: { id: string; epoch: number; startedAt: Date }, spec: Pick<ContainerSpec, "timeoutMs" | "inactivityMs" | "onStdoutLine" | "handOver" | "stop">): Promise<RunOutcome> {
  // Its secrets are redacted already: the run's context learns every phase's secrets when it is made.
  const network = phaseNetwork(ctx, phase);
  try {
    return await ctx.deps.sandbox.reattach({ id: container.id, role: phase, epoch: container.epoch }, { ...spec, ...ctx.sandboxSettings, ...network.request });
  } finally {
    await network.settled();
    // A crashed owner recorded nothing for this container: its time counts from its start; a
    // draining one recorded up to its hand-over.
    const handedOverAt = ctx.run.facts.agentHandedOverAt ? new Date(ctx.run.facts.agentHandedOverAt) : null;
    await recordTime(ctx, phase, handedOverAt && handedOverAt > container.startedAt ? handedOverAt : container.startedAt);
  }
}
