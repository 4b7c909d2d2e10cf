// The repository's .github/bosun.yml: what the repository owner chooses. One zod schema gives
// the type, the defaults and the validation; problems name the file, line and key.
import { z } from "zod";
import { modelAgentKinds, networkModes, registryPresets, secretName } from "./org-policy.ts";
import { parseYamlSettings, type ConfigProblem } from "./yaml-settings.ts";

export { describeProblems, type ConfigProblem } from "./yaml-settings.ts";

export const repoConfigPath = ".github/bosun.yml";

const minutes = z.number().positive().max(7 * 24 * 60);

/** A phase's network and secrets, chosen within what the org's policy allows for it. */
const phaseChoice = z.strictObject({
  network: z.enum(networkModes).optional().describe("`none` to give the phase no network even where the org allows some."),
  hosts: z.array(z.string().min(1)).optional().describe("The hosts the phase needs, each within the org's allowed hosts and presets (default: all the org allows)."),
  presets: z.array(z.enum(registryPresets)).optional().describe("The registry presets the phase needs, within the org's (default: the org's)."),
  secrets: z.array(secretName).optional().describe("The secrets the phase needs, within the org's (default: all the org gives the phase)."),
}).optional();

export const defaultTriggerLabels = { pull_request: "bosun", plan: "bosun:plan" } as const;

export const repoConfigSchema = z.strictObject({
  trigger_labels: z.strictObject({
    pull_request: z.string().min(1).max(50).default(defaultTriggerLabels.pull_request).describe("The issue label that asks Bosun for a pull request."),
    plan: z.string().min(1).max(50).default(defaultTriggerLabels.plan).describe("The issue label that asks Bosun for a read-only plan."),
  }).default({ ...defaultTriggerLabels }).describe("Read from the default branch when a label is added; while the file is broken, the defaults hold (and the run says what is wrong)."),
  agent: z.strictObject({
    command: z.string().min(1).optional().describe("The `command` adapter: a shell command run in the sandbox at /workspace (default: BOSUN_DEFAULT_AGENT_COMMAND)."),
    use: z.enum(modelAgentKinds).optional().describe("An agent that talks to the model the org's policy names (`model`): `builtin` (Bosun's own tool-calling loop), `codex` (OpenAI's Codex CLI) or `claude` (Anthropic's Claude Code), the last two in the operator's BOSUN_CLI_AGENT_IMAGE unless `image` names another. Not together with `command`."),
    timeout_minutes: minutes.default(30).describe("Wall-clock limit for the agent."),
    inactivity_minutes: minutes.default(10).describe("The agent is stopped when it prints nothing for this long."),
  }).default({ timeout_minutes: 30, inactivity_minutes: 10 }),
  setup: z.strictObject({
    command: z.string().min(1).nullable().default(null).describe("Installs dependencies before the agent starts, in the setup phase, with the network the org allows for it."),
    timeout_minutes: minutes.default(15).describe("Wall-clock limit for setup."),
    cache: z.strictObject({
      enabled: z.boolean().default(true).describe("Reuse the setup's result (what it leaves in the workspace that git does not track) while its inputs stay the same; the org's `setup_cache` must allow it. Turn it off where setup builds from the sources themselves."),
      key_files: z.array(z.string().min(1)).default([]).describe("Globs of more files whose content decides whether a cached setup still fits, besides the lockfiles and manifests Bosun knows (`package-lock.json`, `yarn.lock`, `requirements*.txt`, `go.sum`, `Cargo.lock`, …)."),
    }).default({ enabled: true, key_files: [] }),
  }).default({ command: null, timeout_minutes: 15, cache: { enabled: true, key_files: [] } }),
  test: z.strictObject({
    command: z.string().min(1).nullable().default(null).describe("Runs on the agent's commit in a fresh sandbox, e.g. `npm test`."),
    timeout_minutes: minutes.default(15).describe("Wall-clock limit for the tests."),
  }).default({ command: null, timeout_minutes: 15 }),
  pull_request: z.strictObject({
    labels: z.array(z.string().min(1)).default(["bosun"]).describe("Labels on the pull request."),
    draft: z.boolean().default(false).describe("Open every pull request as a draft, even when the checks and the gate would let it be ready."),
  }).default({ labels: ["bosun"], draft: false }),
  sandbox: z.strictObject({
    memory_mb: z.number().int().min(64).optional().describe("Memory per sandbox, within the org's ceiling (default: the ceiling)."),
    cpus: z.number().positive().optional().describe("CPUs per sandbox, within the org's ceiling (default: the ceiling)."),
    pids: z.number().int().min(16).optional().describe("Processes per sandbox, within the org's ceiling (default: the ceiling)."),
    disk_mb: z.number().int().min(64).optional().describe("Disk per sandbox (its writable volumes together), within the org's ceiling (default: the ceiling)."),
    phases: z.strictObject({ setup: phaseChoice, agent: phaseChoice, test: phaseChoice }).optional(),
  }).default({}),
  image: z.string().min(1).optional().describe("The image setup, agent and tests run in; the org policy must allow it (`sandbox.images`). Default: the org's `sandbox.default_image`, else BOSUN_AGENT_IMAGE (BOSUN_CLI_AGENT_IMAGE for `agent.use: codex` or `claude`)."),
  instructions: z.string().default("").describe("Extra instructions handed to the agent with every task."),
});

export type RepoConfig = z.infer<typeof repoConfigSchema>;

/** `raw`: the file as written, so the merge can say which values the repository chose. */
export type ConfigResult = { ok: true; config: RepoConfig; raw: unknown } | { ok: false; problems: ConfigProblem[] };

/** Parses and validates the file's text (null when the repository has none: all defaults). */
export function parseRepoConfig(text: string | null, file = repoConfigPath): ConfigResult {
  const r = parseYamlSettings(repoConfigSchema, text, file);
  return r.ok ? { ok: true, config: r.value, raw: r.raw } : r;
}
