// The redactor finds and removes a secret as written and in its encoded forms: base64 (alone, and
// inside a longer base64 stream at each of the three byte offsets), base64url, hex and URL-encoding.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { base64Forms, minEncodedLength, Redactor, secretForms } from "../../src/audit/redactor.ts";

const secret = "s3cr3t-Value_for+tests/9";

function redactorWith(...secrets: string[]): Redactor {
  const r = new Redactor();
  for (const s of secrets) r.add(s);
  return r;
}

test("the value as written is found and redacted", () => {
  const r = redactorWith(secret);
  assert.ok(r.found(`token=${secret};`));
  assert.equal(r.text(`token=${secret};`), "token=[REDACTED];");
  assert.ok(!r.found("nothing to see"));
});

test("base64 of the value alone is found and redacted whole, padding and last character too", () => {
  for (const s of [secret, `${secret}x`, `${secret}xy`]) {
    const r = redactorWith(s);
    const enc = Buffer.from(s).toString("base64");
    assert.ok(r.found(`echo ${enc}`), enc);
    assert.equal(r.text(`out: ${enc} end`), "out: [REDACTED] end");
    const unpadded = enc.replace(/=+$/, "");
    assert.equal(r.text(`out: ${unpadded} end`), "out: [REDACTED] end");
  }
});

test("base64 inside a longer stream is found at every byte offset and leaves nothing of the core", () => {
  const r = redactorWith(secret);
  for (let before = 0; before < 6; before++) {
    for (let after = 0; after < 6; after++) {
      const bytes = Buffer.concat([randomBytes(before), Buffer.from(secret), randomBytes(after)]);
      const stream = bytes.toString("base64");
      assert.ok(r.found(stream), `offset ${before % 3}, ${after} after: ${stream}`);
      const url = bytes.toString("base64url");
      assert.ok(r.found(url), `base64url offset ${before % 3}: ${url}`);
      const redacted = r.text(stream);
      assert.match(redacted, /\[REDACTED\]/);
      // What remains around the marker is at most the characters that also depend on other bytes.
      assert.ok(redacted.replace("[REDACTED]", "").length <= 4 + 4 + Math.ceil(before / 3) * 4 + Math.ceil(after / 3) * 4);
    }
  }
});

test("the three base64 cores are what any stream holding the bytes contains", () => {
  const bytes = Buffer.from(secret);
  const cores = base64Forms(bytes).slice(2);
  assert.equal(cores.length, 3);
  for (let offset = 0; offset < 3; offset++) {
    for (let trial = 0; trial < 20; trial++) {
      const stream = Buffer.concat([randomBytes(offset + 3 * (trial % 3)), bytes, randomBytes(trial % 4)]).toString("base64");
      assert.ok(stream.includes(cores[offset]!), `offset ${offset}: ${stream} lacks ${cores[offset]}`);
    }
  }
});

test("base64url, with - and _ where base64 has + and /", () => {
  // Bytes chosen so the standard encoding has both + and /.
  const s = "k>?~k>?~Zz9?>";
  const std = Buffer.from(s).toString("base64");
  assert.match(std, /[+/]/);
  const r = redactorWith(s);
  const url = Buffer.from(s).toString("base64url");
  assert.notEqual(url, std.replace(/=+$/, ""));
  assert.ok(r.found(`x ${url} y`));
  assert.equal(r.text(`x ${url} y`), "x [REDACTED] y");
});

test("hex, lower and upper case", () => {
  const r = redactorWith(secret);
  const hex = Buffer.from(secret).toString("hex");
  assert.ok(r.found(hex));
  assert.ok(r.found(hex.toUpperCase()));
  assert.equal(r.text(`${hex}\n${hex.toUpperCase()}`), "[REDACTED]\n[REDACTED]");
});

test("URL-encoded: encodeURIComponent, lower-case escapes, + for spaces, form encoding", () => {
  const s = "p@ss w0rd/with+plus&more!*";
  const r = redactorWith(s);
  const forms = [
    encodeURIComponent(s),
    encodeURIComponent(s).replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    encodeURIComponent(s).replaceAll("%20", "+"),
    new URLSearchParams({ q: s }).toString().slice(2),
  ];
  for (const f of forms) {
    assert.ok(r.found(`https://x.test/?q=${f}`), f);
    assert.equal(r.text(`?q=${f}&`), "?q=[REDACTED]&");
  }
});

test("base64 and hex wrapped over lines are found", () => {
  const long = `${secret}${secret}${secret}`;
  const r = redactorWith(long);
  const wrapped = Buffer.from(long).toString("base64").replace(/(.{20})/g, "$1\n");
  assert.ok(r.found(wrapped));
  assert.ok(r.foundInBytes(Buffer.from(wrapped)));
});

test("short values: secrets under six characters are ignored; encoded forms under the minimum are not looked for", () => {
  const r = redactorWith("abc");
  assert.ok(!r.found("abc abc"));
  assert.equal(r.text("abc"), "abc");
  const forms = secretForms("abcdef");
  assert.ok(forms.includes("abcdef"));
  for (const f of forms) if (f !== "abcdef") assert.ok(f.length >= minEncodedLength, f);
  // Ordinary text and a lockfile full of base64 hashes do not match a real secret's forms.
  const r2 = redactorWith(secret);
  const lock = Array.from({ length: 2000 }, () => `"integrity": "sha512-${randomBytes(64).toString("base64")}"`).join("\n");
  assert.ok(!r2.found(lock));
  assert.ok(!r2.found("The quick brown fox jumps over the lazy dog. 0123456789abcdef ABCDEF %20+%2F"));
});

test("bytes: the raw value, its encodings, next to NUL bytes and in UTF-8", () => {
  const s = "clé-secrète-ünïcode";
  const r = redactorWith(s);
  const nul = Buffer.from([0, 1, 2, 0, 255]);
  assert.ok(r.foundInBytes(Buffer.concat([nul, Buffer.from(s), nul])));
  assert.ok(r.foundInBytes(Buffer.concat([nul, Buffer.from(Buffer.from(s).toString("base64")), nul])));
  assert.ok(r.foundInBytes(Buffer.concat([nul, Buffer.from(encodeURIComponent(s)), nul])));
  assert.ok(r.found(encodeURIComponent(s)));
  assert.ok(!r.foundInBytes(Buffer.concat([nul, Buffer.from("clé-secrète"), nul])));
});

test("JSON values are redacted deeply, NUL becomes U+FFFD", () => {
  const r = redactorWith(secret);
  const enc = Buffer.from(secret).toString("base64");
  assert.deepEqual(r.value({ a: [enc, `x${secret}`], b: 1, c: "a\u0000b" }), { a: ["[REDACTED]", "x[REDACTED]"], b: 1, c: "a\ufffdb" });
});
