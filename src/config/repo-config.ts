// The repository's .github/bosun.yml: what the repository owner chooses. One zod schema gives
// the type, the defaults and the validation; problems name the file, line and key.
import { z } from "zod";
import { LineCounter, parseDocument } from "yaml";

export const repoConfigPath = ".github/bosun.yml";

const minutes = z.number().positive().max(24 * 60);

export const repoConfigSchema = z.strictObject({
  agent: z.strictObject({
    /** The `command` adapter: a command line run in the sandbox at /workspace. */
    command: z.string().min(1).optional(),
    timeout_minutes: minutes.default(30),
    /** Stopped when it prints nothing for this long. */
    inactivity_minutes: minutes.default(10),
  }).default({ timeout_minutes: 30, inactivity_minutes: 10 }),
  test: z.strictObject({
    command: z.string().min(1).nullable().default(null),
    timeout_minutes: minutes.default(15),
  }).default({ command: null, timeout_minutes: 15 }),
  pull_request: z.strictObject({
    labels: z.array(z.string().min(1)).default(["bosun"]),
  }).default({ labels: ["bosun"] }),
  /** Extra instructions handed to the agent with every task. */
  instructions: z.string().default(""),
});

export type RepoConfig = z.infer<typeof repoConfigSchema>;

export interface ConfigProblem {
  file: string;
  line: number | null;
  key: string | null;
  message: string;
}

export type ConfigResult = { ok: true; config: RepoConfig } | { ok: false; problems: ConfigProblem[] };

/** Parses and validates the file's text (null when the repository has none: all defaults). */
export function parseRepoConfig(text: string | null, file = repoConfigPath): ConfigResult {
  if (text === null) return { ok: true, config: repoConfigSchema.parse({}) };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({ file, line: lineCounter.linePos(e.pos[0]).line, key: null, message: e.message.split("\n")[0] ?? e.message })),
    };
  }
  const js: unknown = doc.toJS();
  const data = js ?? {};
  const r = repoConfigSchema.safeParse(data);
  if (r.success) return { ok: true, config: r.data };
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
