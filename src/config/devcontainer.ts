// A repository's dev container (`.devcontainer/devcontainer.json` or `.devcontainer.json`, JSON with
// comments) already says how to build its environment: Bosun takes its `image` (when the org allows
// it), runs its lifecycle commands as the setup, and gives every phase its `containerEnv` and
// `remoteEnv`. It never builds an image: a `build` section is refused, naming the field.
// Spec: https://containers.dev/implementors/json_reference/
import { parse, printParseErrorCode, type ParseError } from "jsonc-parser";
import { z } from "zod";

export const devcontainerPaths = [".devcontainer/devcontainer.json", ".devcontainer.json"] as const;

const lifecycleCommand = z.union([z.string(), z.array(z.string()), z.record(z.string(), z.union([z.string(), z.array(z.string())]))]);
const devcontainerSchema = z.looseObject({
  image: z.string().min(1).optional(),
  build: z.unknown().optional(),
  dockerFile: z.unknown().optional(),
  dockerComposeFile: z.unknown().optional(),
  onCreateCommand: lifecycleCommand.optional(),
  updateContentCommand: lifecycleCommand.optional(),
  postCreateCommand: lifecycleCommand.optional(),
  containerEnv: z.record(z.string(), z.string()).optional(),
  remoteEnv: z.record(z.string(), z.string().nullable()).optional(),
});

export interface Devcontainer {
  path: string;
  image: string | null;
  /** A field that asks Bosun to build an image (`build`, `dockerFile`, `dockerComposeFile`), if any. */
  builds: string | null;
  /** onCreateCommand, updateContentCommand and postCreateCommand, in that order, as one shell script. */
  setup: string | null;
  /** containerEnv then remoteEnv, as shell assignments for every phase (`${containerEnv:X}` reads X). */
  env: Record<string, string>;
}

export type DevcontainerResult = { ok: true; value: Devcontainer } | { ok: false; message: string };

/** Names Bosun sets itself for the sandbox (its proxy, its own), which a repository may not replace. */
const reserved = /^(BOSUN_.*|HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|npm_config_(https_)?proxy|PIP_PROXY|GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+)|HOME)$/;

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/** One lifecycle command as shell: a string runs in a shell, an array is one command and its arguments, an object's entries run one after another. */
function script(c: z.infer<typeof lifecycleCommand>): string {
  if (typeof c === "string") return c;
  if (Array.isArray(c)) return c.map(quote).join(" ");
  // The spec runs an object's entries in parallel; one after another is what a sandbox's logs can follow.
  return Object.values(c).map((x) => `( ${script(x)} )`).join(" && ");
}

/** A value for `NAME="…"` in sh: `${containerEnv:X}` reads the variable, everything else is literal. */
function shellValue(key: string, value: string, path: string): string | { error: string } {
  let out = "";
  let rest = value;
  for (;;) {
    const at = rest.indexOf("${");
    if (at < 0) break;
    out += literal(rest.slice(0, at));
    const end = rest.indexOf("}", at);
    if (end < 0) return { error: `\`${key}\` in \`${path}\`: an unclosed \`\${\`` };
    const ref = rest.slice(at + 2, end);
    const m = /^containerEnv:([A-Za-z_][A-Za-z0-9_]*)$/.exec(ref);
    if (m) out += `\${${m[1] ?? ""}}`;
    else if (ref === "containerWorkspaceFolder" || ref === "localWorkspaceFolder") out += "/workspace";
    else if (ref === "containerWorkspaceFolderBasename" || ref === "localWorkspaceFolderBasename") out += "workspace";
    // The values of Bosun's own host must never reach a sandbox.
    else return { error: `\`${key}\` in \`${path}\`: \`\${${ref}}\` is not available in Bosun's sandbox (only \`\${containerEnv:NAME}\` and the workspace folder)` };
    rest = rest.slice(end + 1);
  }
  return `"${out}${literal(rest)}"`;
}

function literal(s: string): string {
  return s.replace(/[\\"$`]/g, (c) => `\\${c}`);
}

export function parseDevcontainer(text: string, path: string): DevcontainerResult {
  const errors: ParseError[] = [];
  const data: unknown = parse(text, errors, { allowTrailingComma: true });
  if (errors.length) {
    const e = errors[0];
    const line = e ? text.slice(0, e.offset).split("\n").length : 0;
    return { ok: false, message: `\`${path}\` is not valid JSON with comments: ${e ? printParseErrorCode(e.error) : "unreadable"} at line ${line}.` };
  }
  const r = devcontainerSchema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, message: `\`${path}\`: \`${issue?.path.join(".") ?? ""}\` ${issue?.message ?? "is not valid"}.` };
  }
  const d = r.data;
  const env: Record<string, string> = {};
  for (const [source, vars] of [["containerEnv", d.containerEnv ?? {}], ["remoteEnv", d.remoteEnv ?? {}]] as const) {
    for (const [key, value] of Object.entries(vars)) {
      if (value === null) continue;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return { ok: false, message: `\`${source}.${key}\` in \`${path}\` is not a variable name.` };
      if (reserved.test(key)) return { ok: false, message: `\`${source}.${key}\` in \`${path}\`: Bosun sets \`${key}\` itself in the sandbox.` };
      const v = shellValue(`${source}.${key}`, value, path);
      if (typeof v !== "string") return { ok: false, message: v.error };
      env[key] = v;
    }
  }
  const steps = [d.onCreateCommand, d.updateContentCommand, d.postCreateCommand].filter((c): c is NonNullable<typeof c> => c !== undefined).map(script);
  const builds = d.build !== undefined ? "build" : d.dockerFile !== undefined ? "dockerFile" : d.dockerComposeFile !== undefined ? "dockerComposeFile" : null;
  return { ok: true, value: { path, image: d.image ?? null, builds, setup: steps.length ? steps.map((s) => `( ${s} )`).join(" && ") : null, env } };
}

/** The shell lines that set a dev container's variables before a phase's command. */
export function envPrefix(env: Record<string, string> | undefined): string {
  const entries = Object.entries(env ?? {});
  return entries.length ? `${entries.map(([k, v]) => `export ${k}=${v}`).join("; ")}; ` : "";
}
