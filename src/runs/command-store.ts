// `/bosun` commands in Postgres: recorded with their delivery in one transaction, claimed by one
// worker at a time under a short lease, marked handled with the reply that was posted.
import type { Pool } from "pg";

export interface StoredCommand {
  id: number;
  installationId: number;
  repoId: number;
  owner: string;
  repo: string;
  issueNumber: number;
  commentId: number;
  author: string;
  /** GitHub's numeric id of the author (null for a dashboard button): logins can be renamed. */
  authorId: number | null;
  authorType: string;
  verb: string;
  args: string;
  /** `comment` for a `/bosun` comment, `dashboard` for a button on the dashboard. */
  via: "comment" | "dashboard";
  /** When Bosun recorded it: an approval written before the thing it approves was shown approves nothing. */
  createdAt: Date;
}

interface CommandRow {
  id: string; installation_id: string; repo_id: string; owner: string; repo: string; issue_number: number;
  comment_id: string; author: string; author_id: string | null; author_type: string; verb: string; args: string; via: string; created_at: Date;
}

const toCommand = (r: CommandRow): StoredCommand => ({
  id: Number(r.id), installationId: Number(r.installation_id), repoId: Number(r.repo_id), owner: r.owner, repo: r.repo,
  issueNumber: r.issue_number, commentId: Number(r.comment_id), author: r.author, authorId: r.author_id === null ? null : Number(r.author_id), authorType: r.author_type, verb: r.verb, args: r.args,
  via: r.via === "dashboard" ? "dashboard" : "comment", createdAt: r.created_at,
});

export class CommandStore {
  readonly #pool: Pool;
  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** False when this delivery was seen before (a redelivery changes nothing). */
  async record(delivery: { id: string; event: string; action: string | null }, c: Omit<StoredCommand, "id" | "via" | "createdAt" | "authorId"> & { via?: StoredCommand["via"]; authorId?: number | null }): Promise<boolean> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      const fresh = await client.query("INSERT INTO deliveries (id, event, action) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id", [delivery.id, delivery.event, delivery.action]);
      if (fresh.rowCount !== 1) {
        await client.query("ROLLBACK");
        return false;
      }
      await client.query(
        `INSERT INTO commands (delivery_id, installation_id, repo_id, owner, repo, issue_number, comment_id, author, author_type, verb, args, via, author_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [delivery.id, c.installationId, c.repoId, c.owner, c.repo, c.issueNumber, c.commentId, c.author, c.authorType, c.verb, c.args, c.via ?? "comment", c.authorId ?? null],
      );
      await client.query("SELECT pg_notify('bosun_runs', 'command')");
      await client.query("COMMIT");
      return true;
    } catch (e) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  async claim(owner: string, leaseMs: number): Promise<StoredCommand | null> {
    const r = await this.#pool.query<CommandRow>(
      `UPDATE commands SET claimed_by = $1, claimed_until = now() + make_interval(secs => $2::double precision / 1000)
       WHERE id = (SELECT id FROM commands WHERE handled_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseMs],
    );
    return r.rows[0] ? toCommand(r.rows[0]) : null;
  }

  async done(id: number, reply: string): Promise<void> {
    await this.#pool.query("UPDATE commands SET handled_at = now(), reply = $2 WHERE id = $1", [id, reply]);
  }
}
