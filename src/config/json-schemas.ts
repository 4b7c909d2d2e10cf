// JSON Schemas for editors (completion and checking of .github/bosun.yml), generated from the
// same zod schemas Bosun validates with. `npm run schemas` writes them; a test keeps them current.
import { z } from "zod";
import { eventJsonSchema } from "../audit/event-schema.ts";
import { bosunDefaults, orgPolicySchema } from "./org-policy.ts";
import { repoConfigSchema } from "./repo-config.ts";

/**
 * `defaults`: where a schema leaves defaults to the merge (the org policy, whose keys must stay
 * unset so the merge can tell who set them), the defaults the reference table shows.
 */
export const schemaFiles = {
  "schema/bosun.repo.schema.json": { schema: repoConfigSchema, title: "Bosun repository settings (.github/bosun.yml)", defaults: null },
  "schema/bosun.org.schema.json": { schema: orgPolicySchema, title: "Bosun org policy (.github/bosun.yml in the org's .github repository)", defaults: bosunDefaults },
} as const;

export function renderSchema(file: keyof typeof schemaFiles): string {
  const { schema, title } = schemaFiles[file];
  // "input": what a person writes, where every defaulted key is optional.
  const json = z.toJSONSchema(schema, { io: "input" });
  return JSON.stringify({ ...json, title }, null, 2) + "\n";
}

interface JsonSchemaNode { type?: string | string[]; properties?: Record<string, JsonSchemaNode>; default?: unknown; description?: string; anyOf?: JsonSchemaNode[] }

export const eventSchemaFile = "schema/bosun.event.schema.json";

/** The transcript events' JSON Schema file, from the same zod schema the tests validate with. */
export function renderEventSchema(): string {
  return JSON.stringify(eventJsonSchema(), null, 2) + "\n";
}

/** The README's reference table for a settings file: one row per setting, from the schema itself. */
export function referenceTable(file: keyof typeof schemaFiles): string {
  const { schema, defaults } = schemaFiles[file];
  const root = z.toJSONSchema(schema, { io: "input" }) as JsonSchemaNode;
  const defaultAt = (path: string[]): unknown => {
    let v: unknown = defaults;
    for (const k of path) v = typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined;
    return v;
  };
  const rows: string[] = ["| key | default | meaning |", "| --- | --- | --- |"];
  const walk = (node: JsonSchemaNode, path: string[]): void => {
    if (node.properties && node.type === "object") {
      for (const [k, child] of Object.entries(node.properties)) walk(child, [...path, k]);
      return;
    }
    const d = defaults ? defaultAt(path) : node.default;
    const shown = d === undefined || d === null ? "none" : `\`${JSON.stringify(d)}\``;
    rows.push(`| \`${path.join(".")}\` | ${shown} | ${(node.description ?? "").replaceAll("|", "\\|")} |`);
  };
  walk(root, []);
  return rows.join("\n");
}

/** Replaces the text between `<!-- reference:NAME -->` and `<!-- /reference:NAME -->`. */
export function withReference(readme: string, name: string, table: string): string {
  const open = `<!-- reference:${name} -->`;
  const close = `<!-- /reference:${name} -->`;
  const a = readme.indexOf(open);
  const b = readme.indexOf(close);
  if (a < 0 || b < a) throw new Error(`[bosun/config] README.md has no ${open} … ${close} section`);
  return `${readme.slice(0, a + open.length)}\n${table}\n${readme.slice(b)}`;
}

export const readmeReferences = { repo: "schema/bosun.repo.schema.json", org: "schema/bosun.org.schema.json" } as const;
