// The setup caches Bosun knows, in Postgres (the files are in Docker volumes). Every lookup is by
// installation and repository id as well as key, so one repository's cache is never offered to
// another, even one with the same files.
import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import { terminalStates } from "../runs/run.ts";
import type { CacheKeyInputs } from "./cache-key.ts";

export interface SetupCache {
  id: string;
  installationId: number;
  owner: string;
  repoId: number;
  repository: string;
  key: string;
  volume: string;
  bytes: number;
  inputs: CacheKeyInputs;
  secrets: string[];
  savedByRun: string;
  createdAt: Date;
  lastUsedAt: Date;
  expiresAt: Date;
  orgLimitBytes: number;
}

interface Row {
  id: string; installation_id: string; owner: string; repo_id: string; repository: string; key: string; volume: string; bytes: string;
  inputs: CacheKeyInputs; secrets: string[]; saved_by_run: string; created_at: Date; last_used_at: Date; expires_at: Date; org_limit_bytes: string;
}

function fromRow(r: Row): SetupCache {
  return {
    id: r.id, installationId: Number(r.installation_id), owner: r.owner, repoId: Number(r.repo_id), repository: r.repository, key: r.key,
    volume: r.volume, bytes: Number(r.bytes), inputs: r.inputs, secrets: r.secrets, savedByRun: r.saved_by_run,
    createdAt: r.created_at, lastUsedAt: r.last_used_at, expiresAt: r.expires_at, orgLimitBytes: Number(r.org_limit_bytes),
  };
}

export interface Scope { installationId: number; owner: string; repoId: number; repository: string }

export class SetupCacheStore {
  readonly #pool: Pool;

  constructor(pool: Pool) {
    this.#pool = pool;
  }

  static newId(): string {
    return randomUUID();
  }

  /** The repository's unexpired cache for `key`. */
  async find(scope: Scope, key: string): Promise<SetupCache | null> {
    const r = await this.#pool.query<Row>(
      "SELECT * FROM setup_caches WHERE installation_id = $1 AND repo_id = $2 AND key = $3 AND expires_at > now()",
      [scope.installationId, scope.repoId, key]);
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  /** Marks a cache used (restored), for the least-recently-used order. */
  async touch(id: string): Promise<void> {
    await this.#pool.query("UPDATE setup_caches SET last_used_at = now() WHERE id = $1", [id]);
  }

  /** The repository's most recent cache, whatever its key: to say which files changed since. */
  async latest(scope: Scope): Promise<SetupCache | null> {
    const r = await this.#pool.query<Row>(
      "SELECT * FROM setup_caches WHERE installation_id = $1 AND repo_id = $2 AND expires_at > now() ORDER BY created_at DESC LIMIT 1",
      [scope.installationId, scope.repoId]);
    return r.rows[0] ? fromRow(r.rows[0]) : null;
  }

  /**
   * Records a saved cache, if the run is still at `owner.epoch` (an attempt that lost the run must
   * not record what it packed: the workspace may be the next owner's, with the agent's files). A
   * cache of the same key that expired, or that was made with other secrets, is replaced (its
   * volume is returned for removal); a live one of the same key wins.
   */
  async record(c: Omit<SetupCache, "createdAt" | "lastUsedAt">, owner: { runId: string; epoch: number }): Promise<{ result: "saved" | "exists" | "not owner"; replaced: string[] }> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      const owns = await client.query("SELECT 1 FROM runs WHERE id = $1 AND epoch = $2 FOR SHARE", [owner.runId, owner.epoch]);
      if (owns.rowCount !== 1) {
        await client.query("ROLLBACK");
        return { result: "not owner", replaced: [] };
      }
      const replaced = await client.query<{ volume: string }>(
        `DELETE FROM setup_caches WHERE installation_id = $1 AND repo_id = $2 AND key = $3 AND (expires_at <= now() OR secrets <> $4::text[])
         RETURNING volume`, [c.installationId, c.repoId, c.key, c.secrets]);
      const r = await client.query(
        `INSERT INTO setup_caches (id, installation_id, owner, repo_id, repository, key, volume, bytes, inputs, secrets, saved_by_run, expires_at, org_limit_bytes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (installation_id, repo_id, key) DO NOTHING`,
        [c.id, c.installationId, c.owner, c.repoId, c.repository, c.key, c.volume, c.bytes, JSON.stringify(c.inputs), c.secrets, c.savedByRun, c.expiresAt, c.orgLimitBytes]);
      await client.query("COMMIT");
      return { result: r.rowCount === 1 ? "saved" : "exists", replaced: replaced.rows.map((x) => x.volume) };
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  /** The installation's caches, least recently used first. */
  async ofInstallation(installationId: number): Promise<SetupCache[]> {
    const r = await this.#pool.query<Row>("SELECT * FROM setup_caches WHERE installation_id = $1 ORDER BY last_used_at, created_at", [installationId]);
    return r.rows.map(fromRow);
  }

  /** Caches that runs still working lie over (their volumes would lose their lower layer). */
  async inUse(): Promise<Set<string>> {
    const r = await this.#pool.query<{ id: string }>(
      `SELECT DISTINCT jsonb_array_elements_text(facts->'setupCachesInUse') AS id FROM runs
        WHERE state NOT IN (${terminalStates.map((t) => `'${t}'`).join(", ")}) AND facts ? 'setupCachesInUse'`);
    return new Set(r.rows.map((x) => x.id));
  }

  async expired(): Promise<SetupCache[]> {
    const r = await this.#pool.query<Row>("SELECT * FROM setup_caches WHERE expires_at <= now()");
    return r.rows.map(fromRow);
  }

  async all(): Promise<SetupCache[]> {
    const r = await this.#pool.query<Row>("SELECT * FROM setup_caches ORDER BY installation_id, last_used_at");
    return r.rows.map(fromRow);
  }

  async remove(id: string): Promise<void> {
    await this.#pool.query("DELETE FROM setup_caches WHERE id = $1", [id]);
  }

  async volumes(): Promise<Set<string>> {
    const r = await this.#pool.query<{ volume: string }>("SELECT volume FROM setup_caches");
    return new Set(r.rows.map((x) => x.volume));
  }
}
