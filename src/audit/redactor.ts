// Removes secret values (minted tokens, policy secrets) from anything Bosun stores or posts.

export class Redactor {
  #secrets = new Set<string>();

  add(secret: string): void {
    // Very short values would redact ordinary words; policy secrets and tokens are long.
    if (secret.length >= 6) this.#secrets.add(secret);
  }

  /** Whether the text holds any secret value. */
  found(s: string): boolean {
    for (const secret of this.#secrets) if (s.includes(secret)) return true;
    return false;
  }

  text(s: string): string {
    // NUL cannot be stored in Postgres text or posted to GitHub; binary output shows as U+FFFD.
    let out = s.replaceAll("\u0000", "\ufffd");
    for (const secret of this.#secrets) out = out.split(secret).join("[REDACTED]");
    return out;
  }

  /** A deep copy of a JSON value with every string redacted. */
  value<T>(v: T): T {
    if (typeof v === "string") return this.text(v) as T;
    if (Array.isArray(v)) return v.map((x: unknown) => this.value(x)) as T;
    if (v !== null && typeof v === "object") {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, this.value(x)])) as T;
    }
    return v;
  }
}
