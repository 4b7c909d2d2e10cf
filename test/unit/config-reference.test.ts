// The JSON Schemas and the README's configuration reference are generated from the zod schemas
// Bosun validates with; they must not drift (`npm run schemas` brings them up to date).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
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
