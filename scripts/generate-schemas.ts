// `npm run schemas`: writes the JSON Schemas under schema/ and the README's configuration
// reference tables from the zod schemas Bosun validates with.
import { readFile, writeFile } from "node:fs/promises";
import { eventSchemaFile, readmeReferences, referenceTable, renderEventSchema, renderSchema, schemaFiles, withReference } from "../src/config/json-schemas.ts";

for (const file of Object.keys(schemaFiles) as (keyof typeof schemaFiles)[]) {
  await writeFile(file, renderSchema(file));
  console.log(`wrote ${file}`);
}
await writeFile(eventSchemaFile, renderEventSchema());
console.log(`wrote ${eventSchemaFile}`);
let readme = await readFile("README.md", "utf8");
for (const [name, file] of Object.entries(readmeReferences)) readme = withReference(readme, name, referenceTable(file));
await writeFile("README.md", readme);
console.log("wrote the configuration reference in README.md");
