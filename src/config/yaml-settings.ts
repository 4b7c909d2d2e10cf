// Validates a YAML settings file against a zod schema. No schema library reports lines by itself:
// the parsed document is validated, then each problem's path is mapped back to its line through
// the yaml package's document and LineCounter.
import type { z } from "zod";
import { LineCounter, parseDocument } from "yaml";

export interface ConfigProblem {
  file: string;
  line: number | null;
  key: string | null;
  message: string;
}

/** `raw` is the document as written, before defaults: it tells which keys the file itself sets. */
export type ParseResult<T> = { ok: true; value: T; raw: unknown } | { ok: false; problems: ConfigProblem[] };

export function parseYamlSettings<S extends z.ZodType>(schema: S, text: string | null, file: string): ParseResult<z.infer<S>> {
  if (text === null) return { ok: true, value: schema.parse({}), raw: {} };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({ file, line: lineCounter.linePos(e.pos[0]).line, key: null, message: e.message.split("\n")[0] ?? e.message })),
    };
  }
  const js: unknown = doc.toJS();
  const r = schema.safeParse(js ?? {});
  if (r.success) return { ok: true, value: r.data, raw: js ?? {} };
  return {
    ok: false,
    problems: r.error.issues.map((issue) => {
      const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
      // An unknown key's problem sits on the object; point at the key itself.
      const keys = issue.code === "unrecognized_keys" ? issue.keys : [];
      const nodePath = keys[0] !== undefined ? [...path, keys[0]] : path;
      const node = doc.getIn(nodePath, true) as { range?: [number, number, number] } | undefined;
      const keyNode = keys[0] !== undefined ? findKeyOffset(doc, path, keys[0]) : null;
      const offset = keyNode ?? node?.range?.[0];
      return {
        file,
        line: offset !== undefined ? lineCounter.linePos(offset).line : null,
        key: nodePath.length ? nodePath.join(".") : null,
        message: issue.code === "unrecognized_keys" ? `unknown setting "${keys.join('", "')}"` : issue.message,
      };
    }),
  };
}

function findKeyOffset(doc: ReturnType<typeof parseDocument>, path: (string | number)[], key: string): number | null {
  const parent: unknown = path.length ? doc.getIn(path, true) : doc.contents;
  const items = (parent as { items?: { key?: { value?: unknown; range?: [number, number, number] } }[] } | null)?.items ?? [];
  for (const item of items) if (item.key?.value === key && item.key.range) return item.key.range[0];
  return null;
}

export function describeProblems(problems: ConfigProblem[]): string {
  return problems.map((p) => `- \`${p.file}\`${p.line !== null ? ` line ${p.line}` : ""}${p.key ? `, \`${p.key}\`` : ""}: ${p.message}`).join("\n");
}
