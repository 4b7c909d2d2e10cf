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
  /** GitHub's author_association of the comment (OWNER, MEMBER, COLLABORATOR, NONE, …); null for a dashboard button. */
  authorAssociation: string | null;
  /** `comment` for a `/bosun` comment, `dashboard` for a button on the dashboard. */
  via: "comment" | "dashboard";
  /** When Bosun recorded it: an approval written before the thing it approves was shown approves nothing. */
  createdAt: Date;
}

interface CommandRow {
  id: string; installation_id: string; repo_id: string; owner: string; repo: string; issue_number: number;
  comment_id: string; author: string; author_id: string | null; author_type: string; verb: string; args: string; via: string; created_at: Date;
  author_association: string | null;
}

const toCommand = (r: CommandRow): StoredCommand => ({
  id: Number(r.id), installationId: Number(r.installation_id), repoId: Number(r.repo_id), owner: r.owner, repo: r.repo,
  issueNumber: r.issue_number, commentId: Number(r.comment_id), author: r.author, authorId: r.author_id === null ? null : Number(r.author_id), authorType: r.author_type, verb: r.verb, args: r.args,
  via: r.via === "dashboard" ? "dashboard" : "comment", createdAt: r.created_at, authorAssociation: r.author_association,
});

/**
 * The lane a command is carried out in: one per repository, so a flood on one repository does not
 * hold up another's, and `cancel` in a lane of its own, so it never waits behind that repository's queue.
 */
export function commandLane(c: Pick<StoredCommand, "repoId" | "verb">): string {
  return `${c.repoId}${c.verb === "cancel" ? ":cancel" : ""}`;
}
const laneSql = `repo_id::text || CASE WHEN verb = 'cancel' THEN ':cancel' ELSE '' END`;

export class CommandStore {
  readonly #pool: Pool;
  constructor(pool: Pool) {
    this.#pool = pool;
  }

  /** False when this delivery was seen before (a redelivery changes nothing). */
  async record(delivery: { id: string; event: string; action: string | null }, c: Omit<StoredCommand, "id" | "via" | "createdAt" | "authorId" | "authorAssociation"> & { via?: StoredCommand["via"]; authorId?: number | null; authorAssociation?: string | null }): Promise<boolean> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      const fresh = await client.query("INSERT INTO deliveries (id, event, action) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id", [delivery.id, delivery.event, delivery.action]);
      if (fresh.rowCount !== 1) {
        await client.query("ROLLBACK");
        return false;
      }
      await client.query(
        `INSERT INTO commands (delivery_id, installation_id, repo_id, owner, repo, issue_number, comment_id, author, author_type, verb, args, via, author_id, author_association)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [delivery.id, c.installationId, c.repoId, c.owner, c.repo, c.issueNumber, c.commentId, c.author, c.authorType, c.verb, c.args, c.via ?? "comment", c.authorId ?? null, c.authorAssociation ?? null],
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

  /**
   * The oldest unclaimed command of one lane (`lane`), or of any lane not in `busy`: `cancel`s
   * first, so a free slot goes to the command that must not wait.
   */
  async claim(owner: string, leaseMs: number, o: { lane?: string; busy?: string[] } = {}): Promise<StoredCommand | null> {
    const r = await this.#pool.query<CommandRow>(
      `UPDATE commands SET claimed_by = $1, claimed_until = now() + make_interval(secs => $2::double precision / 1000)
       WHERE id = (SELECT id FROM commands WHERE handled_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
                     AND ($3::text IS NULL OR ${laneSql} = $3) AND NOT (${laneSql} = ANY($4::text[]))
                   ORDER BY (verb = 'cancel') DESC, id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [owner, leaseMs, o.lane ?? null, o.busy ?? []],
    );
    return r.rows[0] ? toCommand(r.rows[0]) : null;
  }

  /**
   * Whether a refused commenter is answered on this issue now: true (and noted) at most once an
   * hour per commenter and issue, so a flood of refused commands gets one reply.
   */
  async mayAnswerRefusal(c: Pick<StoredCommand, "repoId" | "issueNumber" | "author">): Promise<boolean> {
    const r = await this.#pool.query(
      `INSERT INTO command_refusals (repo_id, issue_number, author, answered_at) VALUES ($1, $2, lower($3), now())
       ON CONFLICT (repo_id, issue_number, author) DO UPDATE SET answered_at = now()
         WHERE command_refusals.answered_at < now() - interval '1 hour'
       RETURNING 1`,
      [c.repoId, c.issueNumber, c.author],
    );
    return r.rowCount === 1;
  }

  /** The answer `mayAnswerRefusal` allowed could not be posted: the next refusal may answer instead. */
  async forgetRefusal(c: Pick<StoredCommand, "repoId" | "issueNumber" | "author">): Promise<void> {
    await this.#pool.query("DELETE FROM command_refusals WHERE repo_id = $1 AND issue_number = $2 AND author = lower($3)", [c.repoId, c.issueNumber, c.author]);
  }

  async done(id: number, reply: string): Promise<void> {
    await this.#pool.query("UPDATE commands SET handled_at = now(), reply = $2 WHERE id = $1", [id, reply]);
  }
}
