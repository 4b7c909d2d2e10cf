// Claims runs from Postgres and works on them, a bounded number at once (p-queue). New runs
// wake the worker through LISTEN/NOTIFY; a poll catches what a notification missed and leases
// that lapsed on another replica.
import { hostname } from "node:os";
import PQueue from "p-queue";
import type { PoolClient } from "pg";
import { executeRun } from "./execute-run.ts";
import { commandLane, type StoredCommand } from "./command-store.ts";
import { handleCommand, RefusalMemo } from "./handle-command.ts";
import { LeaseLostError } from "./store.ts";
import { applyRetention, sweepLeftovers } from "./sweep.ts";
import { SetupCacheStore } from "../setup-cache/cache-store.ts";
import { sweepSetupCaches } from "../setup-cache/eviction.ts";
import type { RunDeps } from "./run-context.ts";
import type { Run } from "./run.ts";

/** Repositories whose commands are worked on at once in one process (each lane one command at a time). */
const maxCommandLanes = 8;

export interface WorkerOptions {
  concurrency: number;
  /** How often leftovers of ended runs are swept (what an outage kept Bosun from removing). */
  sweepMs?: number;
  leaseMs?: number;
  pollMs?: number;
  replica?: string;
}

export class Worker {
  readonly #deps: RunDeps;
  readonly #queue: PQueue;
  readonly #leaseMs: number;
  readonly #pollMs: number;
  readonly replica: string;
  #timer: NodeJS.Timeout | null = null;
  #sweeper: NodeJS.Timeout | null = null;
  #sweeping: Promise<void> | null = null;
  readonly #sweepMs: number;
  #listener: PoolClient | null = null;
  #stopping = false;
  #claiming: Promise<void> | null = null;

  /** Aborted on stop: agents in progress are handed over instead of waited for. */
  readonly #draining = new AbortController();

  constructor(deps: RunDeps, o: WorkerOptions) {
    this.#deps = { ...deps, handOver: this.#draining.signal };
    this.#queue = new PQueue({ concurrency: o.concurrency });
    this.#leaseMs = o.leaseMs ?? 30_000;
    this.#pollMs = o.pollMs ?? 2_000;
    this.#sweepMs = o.sweepMs ?? 60_000;
    this.replica = o.replica ?? `${hostname()}:${process.pid}`;
  }

  async start(): Promise<void> {
    this.#listener = await this.#deps.pool.connect();
    this.#listener.on("notification", () => this.poke());
    await this.#listener.query("LISTEN bosun_runs");
    this.#timer = setInterval(() => this.poke(), this.#pollMs);
    this.#sweeper = setInterval(() => {
      if (this.#sweeping || this.#stopping) return;
      const { store, sandbox, workDir, log } = this.#deps;
      const { pool } = this.#deps;
      this.#sweeping = sweepLeftovers({ store, sandbox, workDir, log })
        .then(() => applyRetention({ store, pool, log }))
        .then(() => sweepSetupCaches({ store: new SetupCacheStore(pool), sandbox, log }))
        .then(() => undefined, (e: unknown) => log.warn({ err: e }, "sweeping leftovers, applying retention or removing old setup caches failed"))
        .finally(() => (this.#sweeping = null));
    }, this.#sweepMs);
    this.poke();
  }

  /** Claims what there is room for, now. */
  poke(): void {
    this.#processCommands();
    if (this.#stopping || this.#claiming) return;
    this.#claiming = this.#claim().catch((e: unknown) => this.#deps.log.error({ err: e }, "claiming runs failed")).finally(() => (this.#claiming = null));
  }

  /** Lanes (src/runs/command-store.ts: a repository's, or its `cancel` lane) being worked through here, and each one's work. */
  readonly #lanes = new Map<string, Promise<void>>();
  readonly #refusals = new RefusalMemo();
  #dispatching: Promise<void> | null = null;

  /**
   * Commands go first and outside the run queue: `/bosun cancel` must not wait for a free slot.
   * Each repository's commands are worked through in order in a lane of their own (up to
   * `maxCommandLanes` lanes at once), so a flood on one repository does not hold up another's, and
   * `cancel` has a lane of its own in each repository.
   */
  #processCommands(): void {
    if (this.#stopping || this.#dispatching) return;
    this.#dispatching = (async () => {
      try {
        while (!this.#stopping && this.#lanes.size < maxCommandLanes) {
          const cmd = await this.#deps.commands.claim(this.replica, 60_000, { busy: [...this.#lanes.keys()] });
          if (!cmd) return;
          const lane = commandLane(cmd);
          this.#lanes.set(lane, this.#workLane(lane, cmd).finally(() => {
            this.#lanes.delete(lane);
            // A lane that ended frees room for a repository that was waiting for one.
            this.#processCommands();
          }));
        }
      } catch (e) {
        this.#deps.log.error({ err: e }, "processing commands failed");
      }
    })().finally(() => (this.#dispatching = null));
  }

  async #workLane(lane: string, first: StoredCommand): Promise<void> {
    for (let cmd: StoredCommand | null = first; cmd && !this.#stopping;) {
      try {
        const reply = await handleCommand(this.#deps, cmd, this.#refusals);
        await this.#deps.commands.done(cmd.id, reply);
      } catch (e) {
        this.#deps.log.error({ err: e, command: cmd.id }, "a command failed; it is tried again when its claim lapses");
      }
      cmd = await this.#deps.commands.claim(this.replica, 60_000, { lane }).catch((e: unknown) => {
        this.#deps.log.error({ err: e }, "claiming commands failed");
        return null;
      });
    }
  }

  async #claim(): Promise<void> {
    const room = this.#queue.concurrency - this.#queue.pending - this.#queue.size;
    const runs = await this.#deps.store.claim(this.replica, room, this.#leaseMs);
    for (const run of runs) {
      this.#queue.add(async () => {
        const heartbeat = setInterval(() => {
          this.#deps.store.renewLease(run, this.#leaseMs).catch((e: unknown) => {
            this.#deps.log.warn({ err: e, run: run.id }, "could not renew a lease");
            // Someone else owns the run now (or it was cancelled): stop this owner's sandboxes, so
            // two agents never work on it at once; the step then stops at its next fenced write.
            // A container the new owner adopted (re-attached to) is the new owner's now.
            if (e instanceof LeaseLostError) void this.#removeOwnContainers(run).catch(() => undefined);
          });
        }, Math.floor(this.#leaseMs / 3));
        try {
          const done = await executeRun(this.#deps, run);
          await this.#deps.store.releaseLease(done);
        } finally {
          clearInterval(heartbeat);
          this.poke();
        }
      }).catch((e: unknown) => this.#deps.log.error({ err: e, run: run.id }, "a run stopped with an error; its lease lapses and another claim picks it up"));
    }
  }

  async #removeOwnContainers(run: Run): Promise<void> {
    const now = await this.#deps.store.get(run.id);
    const adopted = now?.facts.adoptedAgent;
    await this.#deps.sandbox.removeContainers(run.id, { epoch: run.epoch, keep: adopted && adopted.by !== run.epoch ? [adopted.containerId] : [] });
  }

  /** Resolves when nothing is running or queued in this process. */
  async idle(): Promise<void> {
    await this.#queue.onIdle();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#sweeper) clearInterval(this.#sweeper);
    await this.#sweeping;
    await this.#claiming;
    // Steps that end soon finish; an agent, which may work for hours, is left running for another replica.
    this.#draining.abort();
    await this.#dispatching;
    await Promise.all(this.#lanes.values());
    await this.#queue.onIdle();
    if (this.#listener) {
      await this.#listener.query("UNLISTEN bosun_runs").catch(() => undefined);
      this.#listener.release();
      this.#listener = null;
    }
  }
}
