// Dashboard sessions in Postgres, so any replica serves any signed-in person. The cookie carries a
// random id; the table keeps its SHA-256 only. The person's GitHub token (what decides what they
// may see) is sealed with AES-256-GCM under a key derived from a secret the database never holds.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import type { Pool } from "pg";

export interface Session {
  login: string;
  userId: number;
  /** The person's GitHub user token: used for their permission checks, never sent to a page. */
  token: string;
  /** Sent with every form; an action without it is refused (CSRF). */
  csrfToken: string;
  expiresAt: Date;
}

const hashId = (id: string): string => createHash("sha256").update(id).digest("hex");

export class SessionStore {
  readonly #pool: Pool;
  readonly #key: Buffer;

  constructor(pool: Pool, secret: string) {
    this.#pool = pool;
    this.#key = Buffer.from(hkdfSync("sha256", secret, "bosun", "dashboard session tokens", 32));
  }

  /** Returns the cookie value for the new session. */
  async create(s: Omit<Session, "csrfToken">): Promise<string> {
    const id = randomBytes(32).toString("base64url");
    await this.#pool.query(
      "INSERT INTO web_sessions (id_hash, login, user_id, token_sealed, csrf_token, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
      [hashId(id), s.login, s.userId, this.#seal(s.token), randomBytes(24).toString("base64url"), s.expiresAt],
    );
    // Expired sessions go when someone signs in: no separate job needed for a small table.
    await this.#pool.query("DELETE FROM web_sessions WHERE expires_at < now() - interval '1 day'");
    return id;
  }

  async get(id: string | undefined): Promise<Session | null> {
    if (!id || id.length > 100) return null;
    const r = await this.#pool.query<{ login: string; user_id: string; token_sealed: string; csrf_token: string; expires_at: Date }>(
      "SELECT login, user_id, token_sealed, csrf_token, expires_at FROM web_sessions WHERE id_hash = $1 AND expires_at > now()", [hashId(id)]);
    const row = r.rows[0];
    if (!row) return null;
    const token = this.#unseal(row.token_sealed);
    if (token === null) return null;
    return { login: row.login, userId: Number(row.user_id), token, csrfToken: row.csrf_token, expiresAt: row.expires_at };
  }

  async end(id: string | undefined): Promise<void> {
    if (id) await this.#pool.query("DELETE FROM web_sessions WHERE id_hash = $1", [hashId(id)]);
  }

  #seal(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.#key, iv);
    const body = Buffer.concat([c.update(plain, "utf8"), c.final()]);
    return [iv, c.getAuthTag(), body].map((b) => b.toString("base64url")).join(".");
  }

  /** Null when the secret changed since the session began: the person signs in again. */
  #unseal(sealed: string): string | null {
    try {
      const [iv, tag, body] = sealed.split(".").map((p) => Buffer.from(p, "base64url"));
      if (!iv || !tag || !body) return null;
      const d = createDecipheriv("aes-256-gcm", this.#key, iv);
      d.setAuthTag(tag);
      return Buffer.concat([d.update(body), d.final()]).toString("utf8");
    } catch {
      return null;
    }
  }
}

/** Constant-time comparison of a secret token with what a request sent back (a form's CSRF token, an OAuth or setup state). */
export function sameToken(a: string, b: string | undefined): boolean {
  if (!b) return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
