// The JSON Schemas and the README's configuration reference are generated from the zod schemas
// Bosun validates with; they must not drift (`npm run schemas` brings them up to date).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { envSchema } from "../../src/config/env.ts";
import { eventSchemaFile, readmeReferences, referenceTable, renderEventSchema, renderSchema, schemaFiles, withReference } from "../../src/config/json-schemas.ts";

test("the published JSON Schemas are current", async () => {
  for (const file of Object.keys(schemaFiles) as (keyof typeof schemaFiles)[]) {
    assert.equal(await readFile(file, "utf8"), renderSchema(file), `${file} is stale: run npm run schemas`);
  }
  assert.equal(await readFile(eventSchemaFile, "utf8"), renderEventSchema(), `${eventSchemaFile} is stale: run npm run schemas`);
});

test("the README's configuration reference is current and covers every setting", async () => {
  const readme = await readFile("README.md", "utf8");
  for (const [name, file] of Object.entries(readmeReferences)) {
    assert.equal(withReference(readme, name, referenceTable(file)), readme, `README.md's ${name} reference is stale: run npm run schemas`);
  }
  for (const key of ["agent.command", "agent.inactivity_minutes", "setup.command", "test.command", "image", "instructions", "sandbox.runtime", "sandbox.images", "sandbox.phases.setup.network", "sandbox.phases.agent.secrets"]) {
    assert.ok(readme.includes(`\`${key}\``), `README documents ${key}`);
  }
});

/** The README's "Environment" table: each row's variables (its first cell's `code` spans) and default cell. */
function environmentTable(readme: string): { names: string[]; defaults: string; row: string }[] {
  const start = readme.indexOf("\n### Environment\n");
  assert.ok(start >= 0, "README.md has a ### Environment section");
  const end = readme.indexOf("\n### ", start + 1);
  return readme.slice(start, end).split("\n").filter((l) => l.startsWith("| `")).map((row) => {
    const cells = row.split(" | ");
    return { names: [...(cells[0] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? ""), defaults: cells[1] ?? "", row };
  });
}

/** Every `process.env["NAME"]` and `process.env.NAME` under src/, with the file it is in. */
async function variablesReadInSource(): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const entry of await readdir("src", { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    const file = join(entry.parentPath, entry.name);
    const text = await readFile(file, "utf8");
    for (const m of text.matchAll(/process\.env(?:\["([A-Za-z_][A-Za-z0-9_]*)"\]|\.([A-Za-z_][A-Za-z0-9_]*))/g)) found.set(m[1] ?? m[2] ?? "", file);
    // Secrets are read by a prefix and a name from policy.
    if (text.includes("process.env[`BOSUN_SECRET_${")) found.set("BOSUN_SECRET_<NAME>", file);
  }
  return found;
}

test("the README's environment table lists every variable Bosun reads, with the schema's default", async () => {
  const table = environmentTable(await readFile("README.md", "utf8"));
  const rowOf = (name: string) => table.find((r) => r.names.includes(name));
  const properties = (z.toJSONSchema(envSchema, { io: "input" }) as { properties: Record<string, { default?: unknown }> }).properties;
  for (const key of Object.keys(envSchema.shape)) {
    const row = rowOf(key);
    assert.ok(row, `README.md's Environment table has no row for ${key} (src/config/env.ts)`);
    const fallback = properties[key]?.default;
    if (fallback !== undefined) {
      const shown = typeof fallback === "string" || typeof fallback === "number" || typeof fallback === "boolean" ? String(fallback) : JSON.stringify(fallback);
      assert.ok(row.defaults.includes(`\`${shown}\``), `README.md gives ${key} the default ${row.defaults}, src/config/env.ts gives \`${shown}\``);
    }
  }
  // Read outside the schema: not settings, but the operating system's.
  const notSettings = new Set(["PATH"]);
  for (const [name, file] of await variablesReadInSource()) {
    if (!notSettings.has(name)) assert.ok(rowOf(name), `${file} reads ${name}, which README.md's Environment table does not list`);
  }
});
