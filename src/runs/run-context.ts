// Everything one run's steps share: its row, transcript, redactor, tokens and progress comment.
import { join } from "node:path";
import type { Pool } from "pg";
import type { Probot } from "probot";
import type { Logger } from "pino";
import { Redactor } from "../audit/redactor.ts";
import { Transcript } from "../audit/transcript.ts";
import type { Env } from "../config/env.ts";
import { renderProgress, upsertProgressComment } from "../github/progress-comment.ts";
import { TokenBroker } from "../github/tokens.ts";
import type { SandboxCa } from "../sandbox/ca-certs.ts";
import type { Sandbox, SandboxLimits, SandboxRuntime } from "../sandbox/sandbox.ts";
import type { EffectivePolicy } from "../policy/effective-policy.ts";
import type { CommandStore } from "./command-store.ts";
import type { Run, RunState } from "./run.ts";
import { RunDeferred } from "./step-failure.ts";
import { LeaseLostError, type RunPatch, type RunStore } from "./store.ts";

/** How long a run waiting for room (the policy's concurrency limit) stays out of the queue before it looks again. */
const waitingRetryMs = 3_000;

export interface RunDeps {
  app: Probot;
  /** This GitHub App's id: comments and checks are recognised as Bosun's by it. */
  appId: number;
  pool: Pool;
  store: RunStore;
  commands: CommandStore;
  sandbox: Sandbox;
  env: Env;
  log: Logger;
  /** Host-side scratch for clones; one folder per run. */
  workDir: string;
  /** Extra CAs every phase container trusts (BOSUN_SANDBOX_CA_CERTS), prepared at start-up; none when unset. */
  sandboxCa?: SandboxCa | null;
  /** Agents that ship with Bosun, copied into /bosun/agents of each agent container. */
  bundledAgentsDir: string;
  /** Aborts when this process drains (SIGTERM): agent steps hand their container over rather than wait for it. */
  handOver?: AbortSignal;
}

export class RunContext {
  run: Run;
  readonly deps: RunDeps;
  readonly redactor = new Redactor();
  readonly transcript: Transcript;
  readonly tokens: TokenBroker;
  readonly log: Logger;

  constructor(deps: RunDeps, run: Run) {
    this.deps = deps;
    this.run = run;
    this.log = deps.log.child({ run: run.id, repo: `${run.owner}/${run.repo}`, issue: run.issueNumber, ...(run.facts.deliveryId ? { delivery: run.facts.deliveryId } : {}) });
    this.transcript = new Transcript(deps.pool, run.id, this.redactor);
    this.learnSecrets();
    this.tokens = new TokenBroker({
      app: deps.app, apiUrl: deps.env.GITHUB_API_URL, log: this.log, transcript: this.transcript, redactor: this.redactor,
      target: { installationId: run.installationId, repoId: run.repoId, repoFullName: `${run.owner}/${run.repo}` },
    });
  }

  /**
   * Every secret value the run's policy names, for any phase, is redacted from the start: a
   * setup-only secret that setup left in the workspace must not reach a comment either.
   */
  learnSecrets(): void {
    const policy = this.run.facts.policy;
    // The org's lists too: a secret withheld from a phase that runs the agent's code is redacted all the same.
    const lists = policy ? [...Object.values(policy.phases), ...Object.values(policy.rules.sandbox.phases)] : [];
    for (const p of lists) {
      for (const name of p.secrets) {
        const value = process.env[`BOSUN_SECRET_${name}`];
        if (value) this.redactor.add(value);
      }
    }
  }

  get dir(): string {
    return join(this.deps.workDir, this.run.id);
  }

  /** The settings the run works under; set when the run is authorized. */
  get policy(): EffectivePolicy {
    const p = this.run.facts.policy;
    if (!p) throw new Error("[bosun/runs] the run has no settings yet: authorize comes first");
    return p;
  }

  /** The sandbox settings every container of this run gets (gVisor when operator or policy ask for it). */
  get sandboxSettings(): { runtime: SandboxRuntime; limits: SandboxLimits } {
    const { runtime, limits } = this.policy;
    // A policy stored before the disk limit existed gets the operator's.
    const diskMb = limits.disk_mb ?? this.deps.env.BOSUN_SANDBOX_DISK_MB;
    return { runtime, limits: { memoryBytes: limits.memory_mb * 1024 * 1024, nanoCpus: Math.round(limits.cpus * 1e9), pids: limits.pids, diskBytes: diskMb * 1024 * 1024 } };
  }

  /** The image setup, agent and test phases run in (Bosun's own helper containers use BOSUN_AGENT_IMAGE). */
  get image(): string {
    return this.policy.image;
  }

  get repoFullName(): string {
    return `${this.run.owner}/${this.run.repo}`;
  }

  /** Persists the move first, then tells the issue. */
  async moveTo(to: RunState, patch: RunPatch = {}): Promise<void> {
    const from = this.run.state;
    this.run = await this.deps.store.transition(this.run, to, this.redactor.value(patch));
    await this.transcript.append("state", { from, to, ...(patch.outcome ? { outcome: patch.outcome } : {}) });
    this.log.info({ from, to }, "run state changed");
    if (to !== "refused") await this.reportProgressOrNote();
  }

  /**
   * Moves on when the policy's concurrency limits leave room; otherwise says why on the issue
   * (once), hands the run back to the queue for a few seconds and stops this attempt.
   */
  async moveToIfRoom(to: RunState, limits: { perRepository: number | null; perOrg: number | null }, why: (busy: { repository: number; org: number }) => string): Promise<void> {
    // No limit: no count to take under the store's lock.
    if (limits.perRepository === null && limits.perOrg === null) return this.moveTo(to);
    const from = this.run.state;
    const r = await this.deps.store.transitionIfRoom(this.run, to, limits, { facts: { waiting: null } });
    if ("run" in r) {
      this.run = r.run;
      await this.transcript.append("state", { from, to });
      this.log.info({ from, to }, "run state changed");
      await this.reportProgressOrNote();
      return;
    }
    const reason = why(r.busy);
    if (this.run.facts.waiting !== reason) {
      await this.transcript.append("policy_decision", { rule: "concurrency", decision: "waiting", reason, working: r.busy });
      await this.update({ facts: { waiting: reason } });
      await this.reportProgressOrNote();
    }
    await this.deps.store.defer(this.run, waitingRetryMs);
    throw new RunDeferred(reason);
  }

  /** The state is already saved; a comment that fails to update is noted, not fatal. */
  async reportProgressOrNote(): Promise<void> {
    try {
      await this.reportProgress();
    } catch (e) {
      if (e instanceof LeaseLostError) throw e;
      this.log.warn({ err: e }, "could not update the progress comment");
      await this.transcript.append("error", { message: "could not update the progress comment", detail: this.redactor.text(String(e)) }).catch(() => undefined);
    }
  }

  /** Writes step results; secret values never reach the runs table. */
  async update(patch: RunPatch): Promise<void> {
    this.run = await this.deps.store.update(this.run, this.redactor.value(patch));
  }

  /** Adds a line to the progress comment's list of steps done (once: a repeated step does not repeat it). */
  async stepDone(name: string, patch: RunPatch = {}): Promise<void> {
    const done = this.run.facts.steps ?? [];
    const steps = done.some((s) => s.name === name) ? done : [...done, { name, at: new Date().toISOString() }];
    await this.update({ ...patch, facts: { ...patch.facts, steps } });
  }

  async reportProgress(): Promise<void> {
    const { octokit } = await this.tokens.get("report");
    const body = this.redactor.text(renderProgress(this.run, new Date(), this.deps.env.BOSUN_PUBLIC_URL));
    const id = await upsertProgressComment(octokit, this.deps.appId, this.run, body);
    if (id !== this.run.progressCommentId) {
      await this.update({ progressCommentId: id });
      await this.transcript.append("comment", { comment_id: id, purpose: "progress" });
    }
  }
}
