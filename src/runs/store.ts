// Runs, deliveries and transcript events in Postgres. Every write to a run is fenced by its
// epoch, so a process that lost its lease cannot overwrite the new owner's work.
import type { Pool, PoolClient } from "pg";
import type { Person, Run, RunFacts, RunMode, RunState } from "./run.ts";
import { terminalStates, waitingStates } from "./run.ts";
import { assertTransition } from "./transition.ts";

export class LeaseLostError extends Error {
  constructor(runId: string) {
    super(`[bosun/runs] lost the lease on run ${runId}: another worker owns it now`);
  }
}

const terminalSql = terminalStates.map((s) => `'${s}'`).join(", ");
const waitingSql = waitingStates.map((s) => `'${s}'`).join(", ");

interface RunRow {
  id: string; installation_id: string; repo_id: string; owner: string; repo: string; issue_number: number; mode: RunMode;
  state: RunState; requested_by: string; created_at: Date; state_changed_at: Date; epoch: number; attempt: number;
  progress_comment_id: string | null; base_branch: string | null; base_sha: string | null; branch: string | null;
  head_sha: string | null; pr_number: number | null; pr_url: string | null; check_run_id: string | null;
  review_check_run_id: string | null; facts: RunFacts; outcome: string | null; last_error: string | null;
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

function toRun(r: RunRow): Run {
  return {
    id: r.id, installationId: Number(r.installation_id), repoId: Number(r.repo_id), owner: r.owner, repo: r.repo,
    issueNumber: r.issue_number, mode: r.mode, state: r.state, requestedBy: r.requested_by, createdAt: r.created_at,
    stateChangedAt: r.state_changed_at, epoch: r.epoch, attempt: r.attempt, progressCommentId: num(r.progress_comment_id),
    baseBranch: r.base_branch, baseSha: r.base_sha, branch: r.branch, headSha: r.head_sha, prNumber: r.pr_number,
    prUrl: r.pr_url, checkRunId: num(r.check_run_id), reviewCheckRunId: num(r.review_check_run_id), facts: r.facts,
    outcome: r.outcome, lastError: r.last_error,
  };
}

/** Columns a step may set on its run. */
export type RunPatch = Partial<Pick<Run, "progressCommentId" | "baseBranch" | "baseSha" | "branch" | "headSha" | "prNumber" | "prUrl" | "checkRunId" | "reviewCheckRunId" | "outcome" | "lastError">> & { facts?: Partial<RunFacts> };

const columns: Record<Exclude<keyof RunPatch, "facts">, string> = {
  progressCommentId: "progress_comment_id", baseBranch: "base_branch", baseSha: "base_sha", branch: "branch", headSha: "head_sha",
  prNumber: "pr_number", prUrl: "pr_url", checkRunId: "check_run_id", reviewCheckRunId: "review_check_run_id", outcome: "outcome", lastError: "last_error",
};

export interface NewRun {
  installationId: number;
  repoId: number;
  owner: string;
  repo: string;
  issueNumber: number;
  mode: RunMode;
  requestedBy: string;
  facts?: RunFacts;
}

export class RunStore {
  readonly pool: Pool;
  constructor(pool: Pool) {
    this.pool = pool;
  }

  /**
   * Records the delivery and creates a queued run in one transaction, so a handler that fails
   * halfway leaves nothing and GitHub's redelivery starts over. `duplicate` means the delivery
   * was seen before; `created: false` means the issue already has an active run.
   */
  async createRunFromDelivery(delivery: { id: string; event: string; action: string | null }, n: NewRun): Promise<{ duplicate: true } | { duplicate: false; run: Run; created: boolean }> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const fresh = await client.query("INSERT INTO deliveries (id, event, action) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id", [delivery.id, delivery.event, delivery.action]);
      if (fresh.rowCount !== 1) {
        await client.query("ROLLBACK");
        return { duplicate: true };
      }
      const inserted = await client.query<RunRow>(
        `INSERT INTO runs (installation_id, repo_id, owner, repo, issue_number, mode, state, requested_by, trigger_delivery, facts)
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $9::jsonb)
         ON CONFLICT (repo_id, issue_number) WHERE state NOT IN (${terminalSql}) DO NOTHING
         RETURNING *`,
        [n.installationId, n.repoId, n.owner, n.repo, n.issueNumber, n.mode, n.requestedBy, delivery.id, JSON.stringify(n.facts ?? {})],
      );
      let result: { run: Run; created: boolean };
      if (inserted.rows[0]) {
        await client.query("SELECT pg_notify('bosun_runs', $1)", [inserted.rows[0].id]);
        result = { run: toRun(inserted.rows[0]), created: true };
      } else {
        const active = await client.query<RunRow>(`SELECT * FROM runs WHERE repo_id = $1 AND issue_number = $2 AND state NOT IN (${terminalSql})`, [n.repoId, n.issueNumber]);
        if (!active.rows[0]) throw new Error("[bosun/runs] an active run vanished while a new one was refused");
        result = { run: toRun(active.rows[0]), created: false };
      }
      await client.query("COMMIT");
      return { duplicate: false, ...result };
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async get(id: string): Promise<Run | null> {
    const r = await this.pool.query<RunRow>("SELECT * FROM runs WHERE id = $1", [id]);
    return r.rows[0] ? toRun(r.rows[0]) : null;
  }

  async list(filter: { owner?: string; repo?: string; issueNumber?: number } = {}): Promise<Run[]> {
    const r = await this.pool.query<RunRow>(
      `SELECT * FROM runs WHERE ($1::text IS NULL OR owner = $1) AND ($2::text IS NULL OR repo = $2) AND ($3::int IS NULL OR issue_number = $3) ORDER BY created_at`,
      [filter.owner ?? null, filter.repo ?? null, filter.issueNumber ?? null],
    );
    return r.rows.map(toRun);
  }

  /**
   * The repositories that have runs, by id, each with the name of its latest run, for deciding
   * which of them a dashboard viewer may see.
   */
  async repositories(): Promise<{ repoId: number; owner: string; repo: string; installationId: number }[]> {
    const r = await this.pool.query<{ repo_id: string; owner: string; repo: string; installation_id: string }>(
      "SELECT DISTINCT ON (repo_id) repo_id, owner, repo, installation_id FROM runs ORDER BY repo_id, created_at DESC");
    return r.rows.map((x) => ({ repoId: Number(x.repo_id), owner: x.owner, repo: x.repo, installationId: Number(x.installation_id) }));
  }

  /** Newest first, within the given repositories (by id: a name can pass to another repository). */
  async search(f: { repoIds: number[]; state?: RunState | "active" | "ended"; requester?: string; createdAfter?: Date; limit: number; before?: Date }): Promise<Run[]> {
    const r = await this.pool.query<RunRow>(
      `SELECT * FROM runs
       WHERE repo_id = ANY($1::bigint[])
         AND ($2::text IS NULL OR state = $2 OR ($2 = 'active' AND state NOT IN (${terminalSql})) OR ($2 = 'ended' AND state IN (${terminalSql})))
         AND ($3::text IS NULL OR lower(requested_by) = lower($3))
         AND ($4::timestamptz IS NULL OR created_at >= $4)
         AND ($5::timestamptz IS NULL OR created_at < $5)
       ORDER BY created_at DESC LIMIT $6`,
      [f.repoIds, f.state ?? null, f.requester ?? null, f.createdAfter ?? null, f.before ?? null, f.limit],
    );
    return r.rows.map(toRun);
  }

  /**
   * Claims up to `limit` runs that nobody holds (or whose lease lapsed), bumping their epoch.
   * SKIP LOCKED lets any number of replicas claim at once without waiting on each other.
   */
  async claim(owner: string, limit: number, leaseMs: number): Promise<Run[]> {
    if (limit <= 0) return [];
    const r = await this.pool.query<RunRow>(
      `WITH c AS (
         SELECT id FROM runs
         WHERE (state NOT IN (${terminalSql}, ${waitingSql})
            -- An approved held change is the worker's to publish (when the policy leaves room).
            OR (state = 'awaiting_push_approval' AND facts ? 'pushApproval' AND facts->'pushApproval'->>'sha' = facts->>'commitSha'))
           AND (lease_expires_at IS NULL OR lease_expires_at < now())
         ORDER BY created_at
         LIMIT $2
         FOR UPDATE SKIP LOCKED)
       UPDATE runs SET lease_owner = $1, lease_expires_at = now() + make_interval(secs => $3::double precision / 1000),
         epoch = runs.epoch + 1, attempt = runs.attempt + 1, updated_at = now()
       FROM c WHERE runs.id = c.id
       RETURNING runs.*`,
      [owner, limit, leaseMs],
    );
    return r.rows.map(toRun);
  }

  async renewLease(run: Run, leaseMs: number): Promise<void> {
    const r = await this.pool.query(
      "UPDATE runs SET lease_expires_at = now() + make_interval(secs => $3::double precision / 1000) WHERE id = $1 AND epoch = $2",
      [run.id, run.epoch, leaseMs],
    );
    if (r.rowCount !== 1) throw new LeaseLostError(run.id);
  }

  async releaseLease(run: Run): Promise<void> {
    await this.pool.query("UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND epoch = $2", [run.id, run.epoch]);
  }

  /** Moves the run to `to` (checked against the state machine) with an optional patch, fenced by epoch. */
  async transition(run: Run, to: RunState, patch: RunPatch = {}): Promise<Run> {
    assertTransition(run.state, to);
    return this.#write(run, patch, to);
  }

  /** Writes step results without changing state, fenced by epoch. */
  async update(run: Run, patch: RunPatch): Promise<Run> {
    return this.#write(run, patch, null);
  }

  async #write(run: Run, patch: RunPatch, to: RunState | null, db: Pool | PoolClient = this.pool): Promise<Run> {
    const sets: string[] = ["updated_at = now()"];
    const values: unknown[] = [run.id, run.epoch, run.state];
    for (const [key, column] of Object.entries(columns) as [Exclude<keyof RunPatch, "facts">, string][]) {
      if (patch[key] === undefined) continue;
      values.push(patch[key]);
      sets.push(`${column} = $${values.length}`);
    }
    if (patch.facts) {
      // Postgres cannot store NUL in jsonb text.
      values.push(JSON.stringify(patch.facts).replaceAll("\\u0000", "\\ufffd"));
      sets.push(`facts = facts || $${values.length}::jsonb`);
    }
    if (to) {
      values.push(to);
      sets.push(`state = $${values.length}`, "state_changed_at = now()");
    }
    const r = await db.query<RunRow>(`UPDATE runs SET ${sets.join(", ")} WHERE id = $1 AND epoch = $2 AND state = $3 RETURNING *`, values);
    if (!r.rows[0]) throw new LeaseLostError(run.id);
    return toRun(r.rows[0]);
  }

  /**
   * Moves a run on only while fewer of its repository's (and org's) runs than the limits are
   * working. The count and the move happen under one advisory lock per org, so two replicas
   * cannot both take the last place.
   */
  async transitionIfRoom(run: Run, to: RunState, limits: { perRepository: number | null; perOrg: number | null }, patch: RunPatch = {}): Promise<{ run: Run } | { busy: { repository: number; org: number } }> {
    assertTransition(run.state, to);
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtext('bosun:concurrency:' || $1::text))", [run.owner.toLowerCase()]);
      const c = await client.query<{ repository: string; org: string }>(
        `SELECT count(*) FILTER (WHERE repo_id = $2) AS repository, count(*) AS org FROM runs
          WHERE lower(owner) = lower($1) AND id <> $3 AND state IN ('preparing', 'running', 'verifying', 'publishing')`,
        [run.owner, run.repoId, run.id],
      );
      const busy = { repository: Number(c.rows[0]?.repository ?? 0), org: Number(c.rows[0]?.org ?? 0) };
      if ((limits.perRepository !== null && busy.repository >= limits.perRepository) || (limits.perOrg !== null && busy.org >= limits.perOrg)) {
        await client.query("ROLLBACK");
        return { busy };
      }
      const moved = await this.#write(run, patch, to, client);
      await client.query("COMMIT");
      return { run: moved };
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** Gives a run up at once (a draining process): any replica may claim it now; this owner's writes stop counting. */
  async handOver(run: Run): Promise<void> {
    await this.pool.query("UPDATE runs SET lease_owner = NULL, lease_expires_at = NULL, epoch = epoch + 1, updated_at = now() WHERE id = $1 AND epoch = $2", [run.id, run.epoch]);
  }

  /**
   * Hands a claimed run back to the queue for `ms`: no replica claims it before then. The epoch
   * moves on, so this owner's later writes and lease release do nothing; the attempt is not counted.
   */
  async defer(run: Run, ms: number): Promise<void> {
    const r = await this.pool.query(
      `UPDATE runs SET lease_owner = NULL, lease_expires_at = now() + make_interval(secs => $3::double precision / 1000),
         epoch = epoch + 1, attempt = greatest(attempt - 1, 0), updated_at = now() WHERE id = $1 AND epoch = $2`,
      [run.id, run.epoch, ms],
    );
    if (r.rowCount !== 1) throw new LeaseLostError(run.id);
  }

  /** Runs started today (UTC) for a repository or an org, not counting refused ones and `except`. */
  async countToday(o: { repoId?: number; owner?: string; except: string }): Promise<number> {
    const r = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM runs WHERE created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
         AND state <> 'refused' AND id <> $3 AND ($1::bigint IS NULL OR repo_id = $1) AND ($2::text IS NULL OR owner = $2)`,
      [o.repoId ?? null, o.owner ?? null, o.except],
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Runs whose events the policy in force when they ran keeps no longer: ended more than
   * `retention.transcript_days` ago, events not yet reduced (or reduced, with events a sweep had
   * not deleted yet when it stopped).
   */
  async runsPastRetention(limit = 100): Promise<Run[]> {
    const r = await this.pool.query<RunRow>(
      `SELECT * FROM runs WHERE state IN (${terminalSql})
         AND (facts->>'transcriptReducedAt' IS NULL OR EXISTS (SELECT 1 FROM run_events e WHERE e.run_id = runs.id))
         AND jsonb_typeof(facts->'policy'->'rules'->'retention'->'transcript_days') = 'number'
         AND state_changed_at < now() - make_interval(secs => (facts->'policy'->'rules'->'retention'->>'transcript_days')::double precision * 86400)
       ORDER BY state_changed_at LIMIT $1`,
      [limit],
    );
    return r.rows.map(toRun);
  }

  /** This deployment's id, made by the migrations. */
  async instanceId(): Promise<string> {
    const r = await this.pool.query<{ id: string }>("SELECT id FROM bosun_instance");
    const id = r.rows[0]?.id;
    if (!id) throw new Error("[bosun/db] bosun_instance is empty; the migrations did not run");
    return id;
  }

  /** Records one sandbox container's time; it counts whoever holds the run's lease now. */
  async recordSandboxTime(run: Pick<Run, "id" | "repoId" | "owner">, phase: string, startedAt: Date, seconds: number): Promise<void> {
    await this.pool.query("INSERT INTO sandbox_usage (run_id, repo_id, owner, phase, started_at, seconds) VALUES ($1, $2, $3, $4, $5, $6)", [run.id, run.repoId, run.owner, phase, startedAt, Math.max(0, seconds)]);
  }

  /** Sandbox minutes used today (UTC) by a repository or an org. */
  async sandboxMinutesToday(o: { repoId?: number; owner?: string }): Promise<number> {
    const r = await this.pool.query<{ s: number | null }>(
      `SELECT sum(seconds) AS s FROM sandbox_usage WHERE started_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
         AND ($1::bigint IS NULL OR repo_id = $1) AND ($2::text IS NULL OR owner = $2)`,
      [o.repoId ?? null, o.owner ?? null],
    );
    return (r.rows[0]?.s ?? 0) / 60;
  }

  /** A run started by a command (`/bosun retry`), not a delivery; null when the issue has an active run. */
  async createRunFromCommand(n: NewRun): Promise<Run | null> {
    const r = await this.pool.query<RunRow>(
      `INSERT INTO runs (installation_id, repo_id, owner, repo, issue_number, mode, state, requested_by, facts)
       VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8::jsonb)
       ON CONFLICT (repo_id, issue_number) WHERE state NOT IN (${terminalSql}) DO NOTHING RETURNING *`,
      [n.installationId, n.repoId, n.owner, n.repo, n.issueNumber, n.mode, n.requestedBy, JSON.stringify(n.facts ?? {})],
    );
    if (!r.rows[0]) return null;
    await this.pool.query("SELECT pg_notify('bosun_runs', $1)", [r.rows[0].id]);
    return toRun(r.rows[0]);
  }

  /** Changes state from outside the worker (a command): no lease needed, only a legal move; the epoch moves, so the worker holding the run stops at its next write. */
  /** Adds facts to a run without touching its state or lease: commands about a finished run (approving its pull request's protected paths). */
  /**
   * Records the approval of a held change, only while the run still holds exactly that commit, and
   * wakes the workers: one of them publishes it when the policy leaves room. Null: it moved on.
   */
  async approveHeld(runId: string, approval: NonNullable<RunFacts["pushApproval"]>): Promise<Run | null> {
    const r = await this.pool.query<RunRow>(
      `UPDATE runs SET facts = facts || jsonb_build_object('pushApproval', $2::jsonb), updated_at = now()
       WHERE id = $1 AND state = 'awaiting_push_approval' AND facts->>'commitSha' = $3 AND NOT facts ? 'pushApproval' RETURNING *`,
      [runId, JSON.stringify(approval), approval.sha],
    );
    if (r.rows[0]) await this.pool.query("SELECT pg_notify('bosun_runs', $1)", [runId]);
    return r.rows[0] ? toRun(r.rows[0]) : null;
  }

  /** Adds someone to the run's `pushers` in one statement, so two refreshes at once cannot lose one. */
  async addPusher(runId: string, who: Person): Promise<Run | null> {
    const r = await this.pool.query<RunRow>(
      `UPDATE runs SET facts = jsonb_set(facts, '{pushers}', coalesce(facts->'pushers', '[]'::jsonb) || jsonb_build_array($2::jsonb)), updated_at = now()
       WHERE id = $1 RETURNING *`,
      [runId, JSON.stringify(who)],
    );
    return r.rows[0] ? toRun(r.rows[0]) : null;
  }

  async amendFacts(runId: string, facts: Partial<RunFacts>): Promise<Run | null> {
    const r = await this.pool.query<RunRow>(
      "UPDATE runs SET facts = facts || $2::jsonb, updated_at = now() WHERE id = $1 RETURNING *",
      [runId, JSON.stringify(facts).replaceAll("\\u0000", "\\ufffd")],
    );
    return r.rows[0] ? toRun(r.rows[0]) : null;
  }

  /**
   * Moves a run nobody need hold (a command's doing). `from`: only from this state (a run that moved
   * on meanwhile is left alone and null returned).
   */
  async forceState(runId: string, to: RunState, outcome: string | null, facts: Partial<RunFacts> = {}, from?: RunState): Promise<Run | null> {
    const client: PoolClient = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const cur = await client.query<RunRow>("SELECT * FROM runs WHERE id = $1 FOR UPDATE", [runId]);
      const row = cur.rows[0];
      if (!row || (from !== undefined && row.state !== from)) { await client.query("ROLLBACK"); return null; }
      assertTransition(row.state, to);
      const r = await client.query<RunRow>(
        `UPDATE runs SET state = $2, outcome = coalesce($3, outcome), facts = facts || $4::jsonb, state_changed_at = now(), updated_at = now(),
           epoch = epoch + 1, lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 RETURNING *`,
        [runId, to, outcome, JSON.stringify(facts).replaceAll("\\u0000", "\\ufffd")],
      );
      await client.query("SELECT pg_notify('bosun_runs', $1)", [runId]);
      await client.query("COMMIT");
      return r.rows[0] ? toRun(r.rows[0]) : null;
    } catch (e) {
      await client.query("ROLLBACK");
      throw e;
    } finally {
      client.release();
    }
  }
}
