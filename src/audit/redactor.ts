// Removes secret values (minted tokens, policy secrets) from anything Bosun stores or posts, and
// finds them in what the agent wrote: as written, and in the encodings a program reaches for to
// get a value past an exact-string check (base64, base64url, hex, URL-encoding).

/** Raw secrets shorter than this would redact ordinary words; policy secrets and tokens are long. */
export const minSecretLength = 6;
/** An encoded form shorter than this could turn up in ordinary text (or a lockfile's hashes); it is not looked for. */
export const minEncodedLength = 8;

const b64 = (bytes: Buffer): string => bytes.toString("base64");
const toUrlAlphabet = (s: string): string => s.replaceAll("+", "-").replaceAll("/", "_");

/**
 * Base64 of `bytes` wherever they sit in a longer base64 stream. A stream encodes three bytes as
 * four characters, so the bytes start at one of three offsets within a group; for each offset the
 * characters that depend on these bytes alone (not on the stream's bytes before or after) are the
 * same whatever surrounds them: one "core" per offset. Also the value encoded alone, with and
 * without padding, so redacting it leaves no stray final character.
 */
export function base64Forms(bytes: Buffer): string[] {
  const forms = [b64(bytes), b64(bytes).replace(/=+$/, "")];
  for (let offset = 0; offset < 3; offset++) {
    const padded = Buffer.concat([Buffer.alloc(offset), bytes]);
    const bits = padded.length * 8;
    // Characters 6i..6i+5 bits: the first ceil(8*offset/6) touch the unknown bytes before, and the
    // ones past floor(bits/6) touch the unknown bytes after.
    forms.push(b64(padded).slice(Math.ceil((8 * offset) / 6), Math.floor(bits / 6)));
  }
  return forms;
}

/** Every form of `secret` Bosun looks for, longest first (so a longer form is redacted whole). */
export function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const encoded = new Set<string>();
  for (const f of base64Forms(bytes)) {
    encoded.add(f);
    encoded.add(toUrlAlphabet(f).replace(/=+$/, ""));
  }
  const hex = bytes.toString("hex");
  encoded.add(hex);
  encoded.add(hex.toUpperCase());
  const uri = encodeURIComponent(secret);
  encoded.add(uri);
  encoded.add(uri.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()));
  encoded.add(uri.replaceAll("%20", "+"));
  encoded.add(new URLSearchParams({ v: secret }).toString().slice(2)); // form encoding: `+` for spaces, `*` kept, `!'()~` escaped
  encoded.delete(secret);
  const forms = [secret, ...[...encoded].filter((f) => f.length >= minEncodedLength)];
  return [...new Set(forms)].sort((a, b) => b.length - a.length);
}

export class Redactor {
  #secrets = new Set<string>();
  /** Every form of every secret, longest first. */
  #forms: string[] = [];
  /** The forms as latin1 strings of their UTF-8 bytes, for looking through a file's bytes. */
  #byteForms: string[] = [];

  add(secret: string): void {
    if (secret.length < minSecretLength || this.#secrets.has(secret)) return;
    this.#secrets.add(secret);
    const forms = new Set([...this.#forms, ...secretForms(secret)]);
    this.#forms = [...forms].sort((a, b) => b.length - a.length);
    this.#byteForms = this.#forms.map((f) => Buffer.from(f, "utf8").toString("latin1"));
  }

  /** The longest form looked for: how much two chunks of a stream must overlap so none is missed. */
  get longestForm(): number {
    return this.#byteForms.reduce((n, f) => Math.max(n, f.length), 0);
  }

  /**
   * Whether the text holds any secret value, as written or encoded. Also with whitespace taken
   * out, so base64 or hex wrapped over lines (as `base64` prints it) is found too.
   */
  found(s: string): boolean {
    if (this.#forms.length === 0) return false;
    const squeezed = s.replace(/\s+/g, "");
    return this.#forms.some((f) => s.includes(f) || squeezed.includes(f));
  }

  /** Whether bytes (a file's, any encoding) hold any secret value, as written or encoded. */
  foundInBytes(bytes: Buffer): boolean {
    if (this.#byteForms.length === 0) return false;
    // latin1 maps each byte to one character, so the UTF-8 bytes of a form match as a string.
    const s = bytes.toString("latin1");
    const squeezed = s.replace(/[\t\n\r ]+/g, "");
    return this.#byteForms.some((f) => s.includes(f) || squeezed.includes(f));
  }

  text(s: string): string {
    // NUL cannot be stored in Postgres text or posted to GitHub; binary output shows as U+FFFD.
    let out = s.replaceAll("\u0000", "\ufffd");
    for (const form of this.#forms) out = out.split(form).join("[REDACTED]");
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
