// The repository's .github/bosun.yml: what the repository owner chooses. One zod schema gives
// the type, the defaults and the validation; problems name the file, line and key.
import { z } from "zod";
import { parseYamlSettings, type ConfigProblem } from "./yaml-settings.ts";

export { describeProblems, type ConfigProblem } from "./yaml-settings.ts";

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
  /** Installs dependencies before the agent starts, with the setup phase's network (registries by default). */
  setup: z.strictObject({
    command: z.string().min(1).nullable().default(null),
    timeout_minutes: minutes.default(15),
  }).default({ command: null, timeout_minutes: 15 }),
  test: z.strictObject({
    command: z.string().min(1).nullable().default(null),
    timeout_minutes: minutes.default(15),
  }).default({ command: null, timeout_minutes: 15 }),
  pull_request: z.strictObject({
    labels: z.array(z.string().min(1)).default(["bosun"]),
  }).default({ labels: ["bosun"] }),
  /** The image setup, agent and tests run in; it must be one the org's policy allows. */
  image: z.string().min(1).optional(),
  /** Extra instructions handed to the agent with every task. */
  instructions: z.string().default(""),
});

export type RepoConfig = z.infer<typeof repoConfigSchema>;

export type ConfigResult = { ok: true; config: RepoConfig } | { ok: false; problems: ConfigProblem[] };

/** Parses and validates the file's text (null when the repository has none: all defaults). */
export function parseRepoConfig(text: string | null, file = repoConfigPath): ConfigResult {
  const r = parseYamlSettings(repoConfigSchema, text, file);
  return r.ok ? { ok: true, config: r.value } : r;
}
