// Schema fidelity checks for the offline GitHub emulator.
//
// REST responses are checked against GitHub's api.github.com OpenAPI
// description as shipped by @octokit/openapi (generated/api.github.com.json:
// OpenAPI 3.0.3 with `$ref`s kept, ~13 MB; the only flavour that package ships
// — there is no 3.1 file — and the non-dereferenced one parses ~6x faster
// than the 73 MB `.deref.json` while letting Ajv compile each shared
// component once).
//
// Webhook payloads are checked against @octokit/webhooks-schemas (one draft-07
// schema; `definitions` holds `<event>$<action>` schemas, `<event>_event`
// oneOf groups, and `<event>$event` for events without an action).
//
// Nothing is compiled up front: the description is parsed on first use, and
// each (operation, status) schema is converted to plain JSON Schema and
// compiled by Ajv on first use, only pulling in the components it reaches.

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormatsModule from "ajv-formats";

export interface SchemaProblem {
  where: string;
  message: string;
}

export const MAX_PROBLEMS = 20;

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const require = createRequire(import.meta.url);

// ajv-formats is CommonJS with `module.exports = plugin; exports.default = plugin`.
// Under NodeNext, TypeScript types the default import as the module object, so
// use its `.default`, which exists at runtime too.
const addFormats = addFormatsModule.default;

function newAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true, // report several problems per payload, not only the first
    verbose: true, // keep the offending value on each error (err.data)
    strict: true, // unknown keywords / formats in the *schemas* are errors ...
    strictTypes: false, // ... but not Ajv's lint about e.g. `required` without `type: object`
    strictTuples: false,
    strictRequired: false,
    allowUnionTypes: true,
    validateFormats: true,
  });
  addFormats(ajv);
  return ajv;
}

// ---------------------------------------------------------------------------
// OpenAPI description
// ---------------------------------------------------------------------------

interface OpenApiDoc {
  openapi: string;
  paths: Record<string, JsonObject>;
  components: {
    schemas: Record<string, unknown>;
    responses?: Record<string, unknown>;
    headers?: Record<string, unknown>;
  };
}

const HTTP_METHODS = new Set(["get", "put", "post", "delete", "options", "head", "patch", "trace"]);
const COMPONENT_BASE = "https://openapi.invalid/api.github.com/components/schemas/";

let openapiDoc: OpenApiDoc | undefined;

function openapi(): OpenApiDoc {
  if (!openapiDoc) {
    const file = require.resolve("@octokit/openapi/generated/api.github.com.json");
    const doc: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (!isObject(doc) || !isObject(doc.paths) || !isObject(doc.components) || !isObject(doc.components.schemas)) {
      throw new Error(`${file} does not look like an OpenAPI description`);
    }
    openapiDoc = doc as unknown as OpenApiDoc;
  }
  return openapiDoc;
}

function findOperation(method: string, route: string): JsonObject | undefined {
  const item = openapi().paths[route];
  if (!isObject(item)) return undefined;
  const m = method.toLowerCase();
  if (!HTTP_METHODS.has(m)) return undefined;
  const op = item[m];
  return isObject(op) ? op : undefined;
}

export function knownRestOperation(method: string, route: string): boolean {
  return findOperation(method, route) !== undefined;
}

/** For an unknown route that looks like a concrete URL path, name the templates it matches. */
function templatesMatching(method: string, path: string): string[] {
  const m = method.toLowerCase();
  const out: string[] = [];
  for (const [template, item] of Object.entries(openapi().paths)) {
    if (!isObject(item) || !isObject(item[m])) continue;
    const re = new RegExp(
      "^" + template.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, "\\$&")).join("[^/]+") + "$",
    );
    if (re.test(path)) out.push(template);
  }
  return out.slice(0, 3);
}

/** Follow a `$ref` to `#/components/<kind>/<name>` (responses, headers). */
function deref(v: unknown): unknown {
  let cur = v;
  for (let i = 0; i < 10 && isObject(cur) && typeof cur.$ref === "string"; i++) {
    const m = /^#\/components\/([^/]+)\/(.+)$/.exec(cur.$ref);
    if (!m) throw new Error(`unsupported $ref ${cur.$ref}`);
    const group = (openapi().components as Record<string, unknown>)[m[1]!];
    cur = isObject(group) ? group[unescapePointer(m[2]!)] : undefined;
  }
  return cur;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

// --- OpenAPI Schema Object -> JSON Schema (draft-07 as understood by Ajv) ---

/** Keywords whose value is a schema. */
const SUBSCHEMA = new Set(["items", "additionalProperties", "not", "contains", "propertyNames", "if", "then", "else", "additionalItems"]);
/** Keywords whose value is an array of schemas. */
const SUBSCHEMA_ARRAY = new Set(["allOf", "anyOf", "oneOf", "prefixItems"]);
/** Keywords whose value is a map of name -> schema. */
const SUBSCHEMA_MAP = new Set(["properties", "patternProperties", "dependentSchemas"]);
/** Assertion keywords whose value is data, copied as-is. */
const PLAIN = new Set([
  "type", "enum", "const", "required", "format", "pattern",
  "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
  "minLength", "maxLength", "minItems", "maxItems", "uniqueItems",
  "minProperties", "maxProperties", "dependentRequired",
]);
// Everything else is dropped: annotations (title, description, default,
// example, examples, readOnly, writeOnly, deprecated, externalDocs, xml),
// `discriminator` (oneOf/anyOf still validate all branches), and `x-*`
// extensions such as x-github-breaking-changes. `nullable` is translated.
const COMPOSITION = ["allOf", "anyOf", "oneOf", "not", "$ref"];

class Converter {
  readonly ajv: Ajv;
  readonly registered = new Set<string>();

  constructor(ajv: Ajv) {
    this.ajv = ajv;
  }

  /** Convert an OpenAPI 3.0/3.1 Schema Object; registers every component it references with Ajv. */
  convert(schema: unknown): unknown {
    if (typeof schema === "boolean") return schema;
    if (!isObject(schema)) throw new Error(`not a schema: ${JSON.stringify(schema)}`);

    let out: JsonObject = {};
    if (typeof schema.$ref === "string") {
      const m = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref);
      if (!m) throw new Error(`unsupported schema $ref ${schema.$ref}`);
      const name = unescapePointer(m[1]!);
      this.ensureComponent(name);
      out.$ref = COMPONENT_BASE + encodeURIComponent(name);
      // OpenAPI 3.0 ignores siblings of $ref; 3.1 applies them. Apply them
      // (3.0 descriptions from GitHub have none, so this is 3.1 support).
      const { $ref: _ignored, ...rest } = schema;
      const siblings = this.convert(rest);
      if (isObject(siblings) && Object.keys(siblings).length > 0) out = { allOf: [out, siblings] };
      return out;
    }

    for (const [k, v] of Object.entries(schema)) {
      if (SUBSCHEMA.has(k)) {
        out[k] = Array.isArray(v) ? v.map((s) => this.convert(s)) : this.convert(v);
      } else if (SUBSCHEMA_ARRAY.has(k) && Array.isArray(v)) {
        out[k] = v.map((s) => this.convert(s));
      } else if (SUBSCHEMA_MAP.has(k) && isObject(v)) {
        const map: JsonObject = {};
        for (const [p, s] of Object.entries(v)) map[p] = this.convert(s);
        out[k] = map;
      } else if (k === "$defs" || k === "definitions") {
        throw new Error(`unsupported local ${k} in OpenAPI schema`);
      } else if (PLAIN.has(k)) {
        out[k] = v;
      }
    }

    // OpenAPI 3.0 boolean exclusiveMinimum/Maximum -> JSON Schema numbers.
    for (const [excl, bound] of [["exclusiveMinimum", "minimum"], ["exclusiveMaximum", "maximum"]] as const) {
      if (typeof out[excl] === "boolean") {
        if (out[excl] === true && typeof out[bound] === "number") {
          out[excl] = out[bound];
          delete out[bound];
        } else {
          delete out[excl];
        }
      }
    }

    if (typeof out.format === "string") this.ensureFormat(out.format);

    // OpenAPI 3.0 `nullable: true` also admits null (including for `enum`,
    // which GitHub often writes without listing null).
    if (schema.nullable === true) {
      const hasComposition = COMPOSITION.some((k) => k in out);
      if (out.type !== undefined && !hasComposition) {
        const types = Array.isArray(out.type) ? [...(out.type as unknown[])] : [out.type];
        if (!types.includes("null")) types.push("null");
        out.type = types;
        const values: unknown = out.enum;
        if (Array.isArray(values) && !values.includes(null)) out.enum = [...(values as unknown[]), null];
      } else if (Object.keys(out).length > 0) {
        out = { anyOf: [{ type: "null" }, out] };
      }
      // `{ nullable: true }` alone: anything goes, and out is already {}.
    }
    return out;
  }

  ensureComponent(name: string): void {
    if (this.registered.has(name)) return;
    const raw = openapi().components.schemas[name];
    if (raw === undefined) throw new Error(`$ref to missing component schema '${name}'`);
    this.registered.add(name); // before converting: components may be recursive
    const converted = this.convert(raw);
    // Keep `$id` off a schema that itself is a `$ref` (draft-07 ignores $ref siblings).
    const body = isObject(converted) && !("$ref" in converted) ? converted : { allOf: [converted] };
    this.ajv.addSchema({ ...body, $id: COMPONENT_BASE + encodeURIComponent(name) });
  }

  /** Formats ajv-formats does not know are accepted without checking. */
  ensureFormat(format: string): void {
    if (!this.ajv.formats[format]) this.ajv.addFormat(format, true);
  }
}

let restAjv: Converter | undefined;
const restValidators = new Map<string, ValidateFunction>();

function restConverter(): Converter {
  restAjv ??= new Converter(newAjv());
  return restAjv;
}

function isEmptyBody(body: unknown): boolean {
  if (body === undefined || body === null || body === "") return true;
  if (body instanceof Uint8Array) return body.byteLength === 0;
  return false;
}

function pickJsonMediaType(content: JsonObject): string | undefined {
  const types = Object.keys(content);
  if (types.includes("application/json")) return "application/json";
  return types.find((t) => /[/+]json$/.test(t.split(";")[0]!.trim()));
}

/**
 * Known mistakes in GitHub's description, corrected before compiling, each where the description
 * contradicts itself, so that no answer GitHub really gives could pass:
 * - `GET /app/installations` 200 inlines the `installation` schema with `account` as
 *   `allOf: [simple-user, enterprise]`, demanding that an account be a user and an enterprise at
 *   once; the `installation` component (used by `GET /app/installations/{installation_id}` and the
 *   other installation endpoints) has `anyOf` there, which is what GitHub sends.
 */
const errata: Record<string, (schema: unknown) => unknown> = {
  "GET /app/installations 200": (schema) => {
    const copy = structuredClone(schema);
    const account = isObject(copy) && isObject(copy.items) && isObject(copy.items.properties) ? copy.items.properties.account : undefined;
    if (isObject(account) && Array.isArray(account.allOf) && account.anyOf === undefined) {
      account.anyOf = account.allOf;
      delete account.allOf;
    }
    return copy;
  },
};

function isGenericError(status: number): boolean {
  // 401 (bad credentials), 404 (a repository the caller cannot see), 403 (a permission the token
  // lacks, or a secondary rate limit) and 5xx come from GitHub's front door on every endpoint.
  return status === 401 || status === 403 || status === 404 || status >= 500;
}

export function validateRestResponse(r: {
  method: string;
  route: string;
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}): SchemaProblem[] {
  const method = r.method.toUpperCase();
  const opName = `${method} ${r.route}`;
  const op = findOperation(method, r.route);
  if (!op) {
    const hints = r.route.includes("{") ? [] : templatesMatching(method, r.route);
    return [{
      where: opName,
      message: `unknown operation ${opName} in api.github.com description` +
        (hints.length > 0 ? ` (route must be the path template, e.g. ${hints.join(" or ")})` : ""),
    }];
  }

  const where = `${opName} ${r.status}`;
  const responses = isObject(op.responses) ? op.responses : {};
  const statusKey = String(r.status);
  const rangeKey = `${statusKey[0]}XX`;
  const key = statusKey in responses ? statusKey : rangeKey in responses ? rangeKey : "default" in responses ? "default" : undefined;
  if (key === undefined && isGenericError(r.status)) {
    // GitHub's description lists these answers only for some operations; they must still have
    // GitHub's error shape.
    let validate = restValidators.get("basic-error");
    if (!validate) {
      const conv = restConverter();
      validate = conv.ajv.compile(conv.convert({ $ref: "#/components/schemas/basic-error" }) as object);
      restValidators.set("basic-error", validate);
    }
    return validate(r.body) ? [] : formatErrors(validate.errors ?? [], `${where} body`).slice(0, MAX_PROBLEMS);
  }
  if (key === undefined) {
    return [{
      where,
      message: `status ${r.status} not documented for ${opName} (documented: ${Object.keys(responses).join(", ")})`,
    }];
  }
  const response = deref(responses[key]);
  if (!isObject(response)) return [{ where, message: `response ${key} of ${opName} could not be resolved` }];

  const problems: SchemaProblem[] = [];
  const headers = new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  if (r.headers && isObject(response.headers)) {
    for (const [name, h] of Object.entries(response.headers)) {
      const header = deref(h);
      if (isObject(header) && header.required === true && !headers.has(name.toLowerCase())) {
        problems.push({ where: `${where} headers`, message: `missing required header '${name}'` });
      }
    }
  }

  const content = isObject(response.content) ? response.content : undefined;
  if (r.status === 204 || !content || Object.keys(content).length === 0) {
    if (!isEmptyBody(r.body)) {
      problems.push({
        where: `${where} body`,
        message: `must be empty (${r.status === 204 ? "204 No Content" : `response ${key} documents no content`}), got ${describe(r.body)}`,
      });
    }
    return problems;
  }

  const mediaType = pickJsonMediaType(content);
  if (mediaType === undefined) return problems; // e.g. text/html, diffs: nothing to validate structurally

  const contentType = headers.get("content-type");
  if (contentType !== undefined && !/[/+]json\b/.test(contentType.split(";")[0]!)) {
    problems.push({ where: `${where} headers`, message: `content-type '${contentType}' is not JSON (documented: ${Object.keys(content).join(", ")})` });
  }

  const media = content[mediaType];
  if (!isObject(media) || media.schema === undefined) return problems;

  const cacheKey = `${opName} ${key} ${mediaType}`;
  let validate = restValidators.get(cacheKey);
  if (!validate) {
    const conv = restConverter();
    validate = conv.ajv.compile(conv.convert(errata[`${opName} ${key}`]?.(media.schema) ?? media.schema) as object);
    restValidators.set(cacheKey, validate);
  }
  if (!validate(r.body)) problems.push(...formatErrors(validate.errors ?? [], `${where} body`));
  return problems.slice(0, MAX_PROBLEMS);
}

// ---------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------

const WEBHOOK_BASE = "https://openapi.invalid/octokit-webhooks-schemas/definitions/";

interface WebhookSchemas {
  ajv: Ajv;
  definitions: JsonObject;
  registered: Set<string>;
}

let webhookSchemas: WebhookSchemas | undefined;
const webhookValidators = new Map<string, ValidateFunction>();

function webhooks(): WebhookSchemas {
  if (!webhookSchemas) {
    const file = require.resolve("@octokit/webhooks-schemas/schema.json");
    const root: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (!isObject(root) || !isObject(root.definitions)) throw new Error(`${file} has no definitions`);
    const ajv = newAjv();
    // Annotation used by octokit's TypeScript type generator; no validation meaning.
    ajv.addKeyword({ keyword: "tsAdditionalProperties", schemaType: "boolean" });
    webhookSchemas = { ajv, definitions: root.definitions, registered: new Set() };
  }
  return webhookSchemas;
}

/**
 * Register one definition (and, transitively, those it references) as its own
 * Ajv schema. Adding the whole root document instead makes Ajv compile all of
 * it (~2 s) the first time any `#/definitions/...` ref into it is resolved.
 */
function ensureWebhookDefinition(w: WebhookSchemas, name: string): string {
  const id = WEBHOOK_BASE + encodeURIComponent(name);
  if (w.registered.has(name)) return id;
  const def = w.definitions[name];
  if (def === undefined) throw new Error(`$ref to missing webhook definition '${name}'`);
  w.registered.add(name);
  const rewrite = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(rewrite);
    if (!isObject(v)) return v;
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) {
      if (k === "$ref" && typeof x === "string") {
        const m = /^#\/definitions\/(.+)$/.exec(x);
        if (!m) throw new Error(`unsupported webhook schema $ref ${x}`);
        out.$ref = ensureWebhookDefinition(w, unescapePointer(decodeURIComponent(m[1]!)));
      } else if (k !== "$schema") {
        // nested "$schema": "http://json-schema.org/draft-07/schema" (no '#') is dropped; all are draft-07
        out[k] = rewrite(x);
      }
    }
    return out;
  };
  const converted = rewrite(def);
  const body = isObject(converted) && !("$ref" in converted) ? converted : { allOf: [converted] };
  w.ajv.addSchema({ ...body, $id: id });
  return id;
}

/** Actions documented for an event, from its `<event>_event` oneOf group. */
function documentedActions(defs: JsonObject, event: string): string[] | undefined {
  const group = defs[`${event}_event`];
  if (!isObject(group) || !Array.isArray(group.oneOf)) return undefined;
  return group.oneOf
    .map((m: unknown) => (isObject(m) && typeof m.$ref === "string" ? m.$ref.split("/").pop() ?? "" : ""))
    .filter((n) => n.startsWith(`${event}$`))
    .map((n) => n.slice(event.length + 1));
}

export function validateWebhook(event: string, payload: unknown): SchemaProblem[] {
  const w = webhooks();
  const { ajv, definitions } = w;
  const action = isObject(payload) && typeof payload.action === "string" ? payload.action : undefined;

  let defName: string | undefined;
  const actions = documentedActions(definitions, event);
  if (actions) {
    if (action === undefined) {
      return [{ where: `webhook ${event} payload`, message: `must have required property 'action' (one of ${actions.join(", ")})` }];
    }
    if (!actions.includes(action) || !(`${event}$${action}` in definitions)) {
      return [{ where: `webhook ${event}.${action}`, message: `action '${action}' not documented for webhook event '${event}' (documented: ${actions.join(", ")})` }];
    }
    defName = `${event}$${action}`;
  } else if (`${event}$event` in definitions) {
    defName = `${event}$event`;
  } else if (`${event}_event` in definitions) {
    defName = `${event}_event`;
  } else {
    return [{ where: `webhook ${event}`, message: `unknown webhook event '${event}'` }];
  }

  let validate = webhookValidators.get(defName);
  if (!validate) {
    validate = ajv.compile({ $ref: ensureWebhookDefinition(w, defName) });
    webhookValidators.set(defName, validate);
  }
  if (validate(payload)) return [];
  const label = action !== undefined && actions ? `${event}.${action}` : event;
  return formatErrors(validate.errors ?? [], `webhook ${label} payload`).slice(0, MAX_PROBLEMS);
}

// ---------------------------------------------------------------------------
// Error formatting
// ---------------------------------------------------------------------------

function describe(v: unknown, max = 80): string {
  if (v === undefined) return "undefined";
  if (v instanceof Uint8Array) return `${v.byteLength} bytes`;
  let s: string;
  try {
    // JSON.stringify yields undefined only for functions and symbols.
    s = JSON.stringify(v) ?? `<${typeof v}>`;
  } catch {
    s = `<unserialisable ${typeof v}>`; // cycles, BigInt
  }
  const kind = v === null ? "" : Array.isArray(v) ? "array " : `${typeof v} `;
  return kind + (s.length > max ? s.slice(0, max - 3) + "..." : s);
}

function formatErrors(errors: ErrorObject[], prefix: string): SchemaProblem[] {
  const out: SchemaProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    // The `{type: "null"}` branch added for `nullable` fails for every
    // non-null value; the real failure is reported by the other branch.
    if (e.keyword === "type" && e.params.type === "null") continue;
    const where = prefix + e.instancePath;
    let message = e.message ?? e.keyword;
    switch (e.keyword) {
      case "required":
        break; // "must have required property 'x'"
      case "additionalProperties":
        message = `must NOT have additional property '${String(e.params.additionalProperty)}'`;
        break;
      case "enum":
        message = `must be one of ${describe(e.params.allowedValues, 400).replace(/^array /, "")}, got ${describe(e.data)}`;
        break;
      default:
        message = `${message}, got ${describe(e.data)}`;
    }
    const k = `${where}\n${message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push({ where, message });
    if (out.length >= MAX_PROBLEMS) break;
  }
  return out;
}
