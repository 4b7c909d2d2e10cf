// The published event schema as a consumer of the export would load it: Ajv, JSON Schema 2020-12,
// strict, with the standard formats.
import { readFile } from "node:fs/promises";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";

// ajv-formats is CommonJS; under NodeNext its plugin is the default export's `.default`.
const addFormats = addFormatsModule.default;

export async function publishedEventValidator(): Promise<{ validate: ValidateFunction; errors: () => string }> {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(await readFile("schema/bosun.event.schema.json", "utf8")) as object);
  return { validate, errors: () => ajv.errorsText(validate.errors) };
}
