// The repository's .github/bosun.yml: what the repository owner chooses. One zod schema gives
// the type, the defaults and the validation; problems name the file, line and key.
import { z } from "zod";
import { parseYamlSettings, type ConfigProblem } from "./yaml-settings.ts";

export { describeProblems, type ConfigProblem } from "./yaml-settings.ts";

export const repoConfigPath = ".github/bosun.yml";

const minutes = z.number().positive().max(24 * 60);

export const repoConfigSchema = z.strictObject({
  agent: z.strictObject({
    command: z.string().min(1).optional().describe("The `command` adapter: a shell command run in the sandbox at /workspace (default: BOSUN_DEFAULT_AGENT_COMMAND)."),
    timeout_minutes: minutes.default(30).describe("Wall-clock limit for the agent."),
    inactivity_minutes: minutes.default(10).describe("The agent is stopped when it prints nothing for this long."),
  }).default({ timeout_minutes: 30, inactivity_minutes: 10 }),
  setup: z.strictObject({
    command: z.string().min(1).nullable().default(null).describe("Installs dependencies before the agent starts, in the setup phase, with the network the org allows for it."),
    timeout_minutes: minutes.default(15).describe("Wall-clock limit for setup."),
  }).default({ command: null, timeout_minutes: 15 }),
  test: z.strictObject({
    command: z.string().min(1).nullable().default(null).describe("Runs on the agent's commit in a fresh sandbox, e.g. `npm test`."),
    timeout_minutes: minutes.default(15).describe("Wall-clock limit for the tests."),
  }).default({ command: null, timeout_minutes: 15 }),
  pull_request: z.strictObject({
    labels: z.array(z.string().min(1)).default(["bosun"]).describe("Labels on the pull request."),
  }).default({ labels: ["bosun"] }),
  image: z.string().min(1).optional().describe("The image setup, agent and tests run in; the org policy must allow it (`sandbox.images`). Default: BOSUN_AGENT_IMAGE."),
  instructions: z.string().default("").describe("Extra instructions handed to the agent with every task."),
});

export type RepoConfig = z.infer<typeof repoConfigSchema>;

export type ConfigResult = { ok: true; config: RepoConfig } | { ok: false; problems: ConfigProblem[] };

/** Parses and validates the file's text (null when the repository has none: all defaults). */
export function parseRepoConfig(text: string | null, file = repoConfigPath): ConfigResult {
  const r = parseYamlSettings(repoConfigSchema, text, file);
  return r.ok ? { ok: true, config: r.value } : r;
}
