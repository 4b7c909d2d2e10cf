// The org's binding policy: `.github/bosun.yml` in the org's `.github` repository. Its top level
// holds the rules for every repository; `repositories` entries override them for repositories
// matched by name or glob. A repository cannot loosen it: what the policy allows is a ceiling the
// repository's own `.github/bosun.yml` chooses within (see src/policy/effective-policy.ts).
// Secret values never live in a repository: policy names them, Bosun's environment holds them.
//
// The schema has no defaults of its own: Bosun's defaults are `bosunDefaults` below, so the merge
// can tell which value came from which rule, and an override can set one key of a group.
import { z } from "zod";
import { parseYamlSettings, type ConfigProblem } from "./yaml-settings.ts";

export const orgPolicyRepo = ".github";
export const orgPolicyPath = ".github/bosun.yml";

export const secretName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, "secret names are upper case, digits and _");
export const registryPresets = ["npm", "pypi", "crates", "go", "maven", "rubygems", "debian"] as const;
export type Preset = (typeof registryPresets)[number];
export const permissions = ["read", "triage", "write", "maintain", "admin"] as const;
export const runModes = ["plan", "pull_request"] as const;
/**
 * `default`: the operator's BOSUN_DEFAULT_AGENT_COMMAND; `command`: a repository's own `agent.command`;
 * `builtin`: Bosun's tool-calling loop against the org's model; `codex`, `claude`: OpenAI's Codex CLI and
 * Anthropic's Claude Code against the org's model, in the operator's BOSUN_CLI_AGENT_IMAGE.
 */
export const agentKinds = ["default", "command", "builtin", "codex", "claude"] as const;
export type AgentKind = (typeof agentKinds)[number];
/** The agents that talk to the org's `model` (and so need it, reachable, with its key). */
export const modelAgentKinds = ["builtin", "codex", "claude"] as const;
export type ModelAgentKind = (typeof modelAgentKinds)[number];
export const networkModes = ["none", "allowlist"] as const;

const phaseRules = z.strictObject({
  network: z.enum(networkModes).optional().describe("`none`: no network at all; `allowlist`: only through Bosun's recording proxy, to the hosts listed."),
  hosts: z.array(z.string().min(1)).optional().describe("Names, `*.` wildcards and `name:port` the phase may reach (ports 80 and 443 when none is given)."),
  presets: z.array(z.enum(registryPresets)).optional().describe("Package registries the phase may reach; `npm` and `debian` are where this Bosun host's npm and apt fetch from."),
  addresses: z.record(z.string(), z.string()).optional().describe("Name → address pins; a pinned address counts as listed, even inside the host's own networks."),
  secrets: z.array(secretName).optional().describe("Secrets the phase may be given as environment variables; values come from BOSUN_SECRET_<NAME>."),
  secrets_reach_agent_code: z.boolean().optional().describe("Give this phase's `secrets` even where it runs code the agent wrote: the `agent` phase, the `test` phase (the agent's commit) and the `setup` of a follow-up run (the previous agent's commit, with its install scripts). Without it those get none, except the agent phase the model's key (`model.api_key_secret`). Code the agent wrote can read and send out every secret it is given; repositories cannot set this."),
});

const minutes = z.number().positive().max(7 * 24 * 60);
const perDay = z.number().min(0).nullable().optional();
const atOnce = z.number().int().min(1).nullable().optional();

/** Everything a rule may say about a repository: the top level, and each `repositories` entry. */
const rulesShape = {
  enabled: z.boolean().optional().describe("Whether Bosun works on the repository at all."),
  modes: z.array(z.enum(runModes)).optional().describe("What a run may do: `plan` (a read-only plan as a comment) and `pull_request` (a change as a pull request)."),
  agents: z.array(z.enum(agentKinds)).optional().describe("Agents repositories may use: `default` (the operator's BOSUN_DEFAULT_AGENT_COMMAND), `command` (the repository's own `agent.command`), `builtin` (Bosun's tool-calling loop against `model`), `codex` (OpenAI's Codex CLI against `model`) and `claude` (Anthropic's Claude Code against `model`)."),
  model: z.strictObject({
    base_url: z.string().url().optional().describe("The model's API root, which the model agents talk to: `builtin` OpenAI Chat Completions at `<base_url>/chat/completions`, `codex` the OpenAI Responses API at `<base_url>/responses`, `claude` Anthropic Messages at `<base_url>/v1/messages` (a trailing `/v1` is dropped). Its host must be in the agent phase's `hosts`."),
    name: z.string().min(1).optional().describe("The model the model agents ask for."),
    api_key_secret: secretName.nullable().optional().describe("The secret (one of the agent phase's `secrets`) holding the API key; none sends no key."),
    max_steps: z.number().int().min(1).max(1000).optional().describe("Model turns a model agent may take before it is stopped unfinished (Codex: counted as its messages and tool calls)."),
    max_tokens: z.number().int().min(1000).optional().describe("Tokens (in and out, all turns) a model agent may use before it is stopped unfinished (Codex reports them at the end of its turn)."),
  }).optional(),
  who_may_start: z.strictObject({
    min_permission: z.enum(permissions).optional().describe("The least permission on the repository that lets someone label an issue for Bosun or give it commands."),
    users: z.array(z.string().min(1)).optional().describe("People who may start work whatever their permission."),
    teams: z.array(z.string().min(1)).optional().describe("Team slugs of the org whose members may start work whatever their permission."),
  }).optional(),
  approve_outsider_issues: z.boolean().optional().describe("An issue written by someone without write access waits for `/bosun approve` before the agent reads it."),
  push_before_approval: z.boolean().optional().describe("Push the agent's verified commit and open its pull request before anyone approves it. Off: nothing the agent wrote reaches GitHub until someone with write access other than the requester comments `/bosun approve` on the change Bosun shows. On: a push starts the repository's workflows on the agent's code, with its secrets (same-repository pull requests too, drafts included), before anyone has looked; turn it on only where no workflow gives secrets to `bosun/*` branches. Changes to `protected_paths` wait for approval either way."),
  require_protection_gate: z.boolean().optional().describe("Keep pull requests drafts until the base branch's protection requires Bosun's checks, an approving review and code owners."),
  protected_paths: z.array(z.string().min(1)).optional().describe("Globs of files (matched through renames and symbolic links of their folders) whose change is never pushed until someone with write access other than the requester comments `/bosun approve`, whatever `push_before_approval` says."),
  budgets: z.strictObject({
    runs_per_day_per_repository: perDay.describe("Runs one repository may start per day (UTC); none means no limit."),
    sandbox_minutes_per_day_per_repository: perDay.describe("Sandbox minutes (setup, agent, tests) one repository may use per day (UTC); none means no limit."),
  }).optional(),
  retention: z.strictObject({
    transcript_days: z.number().positive().nullable().optional().describe("Days after a run ends that its events are kept; then they are reduced to the run's summary (states, tokens, hosts, tests, pull request). None keeps them."),
  }).optional(),
  transcript: z.strictObject({
    max_agent_events: z.number().int().min(10).max(1_000_000).optional().describe("Events the agent's output may add to a run's transcript (its JSON lines and other output lines; Bosun's own events always go in)."),
    max_agent_mb: z.number().positive().max(1024).optional().describe("Megabytes (MiB, as printed) of agent output a run's transcript may take."),
    on_limit: z.enum(["drop", "stop"]).optional().describe("Past either limit, `drop`: the agent goes on and what it prints is not recorded (one event at its end says how much was dropped); `stop`: the agent is stopped and the run fails, saying which limit it passed."),
  }).optional(),
  setup_cache: z.strictObject({
    enabled: z.boolean().optional().describe("Reuse a repository's setup result when its inputs are the same: the image, the setup command and the files it reads (lockfiles and manifests). A cache is saved only from a setup on the default branch's commit before any agent code ran, and is offered only to later runs of the same repository."),
    max_age_days: z.number().positive().max(365).optional().describe("Days after it was saved that a cache is removed."),
  }).optional(),
  concurrency: z.strictObject({
    runs_per_repository: atOnce.describe("Runs of one repository that may work at once (past authorization); more wait in the queue. None means no limit."),
  }).optional(),
  sandbox: z.strictObject({
    docker_outage_wait_minutes: z.number().min(0).max(24 * 60).optional().describe("When Bosun loses its Docker engine mid-run, how long the run waits for it to come back (and then resumes, taking a still-running agent over) before it fails; 0 fails at once."),
    runtime: z.enum(["runc", "runsc"]).optional().describe("`runsc` requires gVisor; a host without it refuses runs rather than fall back (default: the operator's BOSUN_RUNTIME, which the policy cannot loosen)."),
    images: z.array(z.string().min(1)).optional().describe("Images repositories may choose, besides the operator's BOSUN_AGENT_IMAGE, BOSUN_CLI_AGENT_IMAGE and BOSUN_UNIVERSAL_AGENT_IMAGE."),
    default_image: z.string().min(1).nullable().optional().describe("The image of repositories that name none (no `image` in their `.github/bosun.yml`, no dev container image), instead of the operator's BOSUN_AGENT_IMAGE, e.g. the operator's BOSUN_UNIVERSAL_AGENT_IMAGE (`bosun/agent-universal:latest`, with Node, Python, Go, Rust, Java and Ruby). Not for `agent.use: codex` or `claude`, which keep BOSUN_CLI_AGENT_IMAGE. It must be allowed: one of the operator's images or in `sandbox.images`; otherwise every run is refused, saying so. `null` goes back to BOSUN_AGENT_IMAGE."),
    limits: z.strictObject({
      memory_mb: z.number().int().min(64).optional().describe("Memory ceiling per sandbox (default, and never above: the operator's BOSUN_SANDBOX_MEMORY_MB)."),
      cpus: z.number().positive().optional().describe("CPU ceiling per sandbox (default, and never above: BOSUN_SANDBOX_CPUS)."),
      pids: z.number().int().min(16).optional().describe("Process ceiling per sandbox (default, and never above: BOSUN_SANDBOX_PIDS)."),
      disk_mb: z.number().int().min(64).optional().describe("Disk ceiling per sandbox: what its writable volumes (`/workspace`, `/bosun`; a restored setup cache's files not counted) may hold together, measured every second while it runs; past it the sandbox is stopped and the phase fails, saying so (default, and never above: BOSUN_SANDBOX_DISK_MB)."),
      agent_minutes: minutes.optional().describe("Ceiling for the repository's `agent.timeout_minutes`."),
      inactivity_minutes: minutes.optional().describe("Ceiling for the repository's `agent.inactivity_minutes`."),
      setup_minutes: minutes.optional().describe("Ceiling for the repository's `setup.timeout_minutes`."),
      test_minutes: minutes.optional().describe("Ceiling for the repository's `test.timeout_minutes`."),
    }).optional(),
    phases: z.strictObject({ setup: phaseRules.optional(), agent: phaseRules.optional(), test: phaseRules.optional() }).optional(),
  }).optional(),
};

export const orgRulesSchema = z.strictObject(rulesShape);
export type OrgRules = z.infer<typeof orgRulesSchema>;

export const orgPolicySchema = z.strictObject({
  ...rulesShape,
  budgets: z.strictObject({
    ...rulesShape.budgets.unwrap().shape,
    runs_per_day_per_org: perDay.describe("Runs all of the org's repositories together may start per day (UTC); none means no limit."),
    sandbox_minutes_per_day_per_org: perDay.describe("Sandbox minutes all of the org's repositories together may use per day (UTC); none means no limit."),
  }).optional(),
  concurrency: z.strictObject({
    ...rulesShape.concurrency.unwrap().shape,
    runs_per_org: atOnce.describe("Runs of all the org's repositories together that may work at once; more wait in the queue. None means no limit."),
  }).optional(),
  setup_cache: z.strictObject({
    ...rulesShape.setup_cache.unwrap().shape,
    max_total_mb_per_org: z.number().int().min(0).max(1_048_576).optional().describe("Disk all the org's setup caches together may take (never above the operator's BOSUN_SETUP_CACHE_MAX_MB_PER_ORG); the least recently used go first when a new one would pass it (0 saves none)."),
  }).optional(),
  repositories: z.array(z.strictObject({
    match: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).describe("Repository names or globs (`api-*`, `{web,app}`) this entry applies to."),
    ...rulesShape,
  })).optional().describe("Overrides for matched repositories, applied in order over the top level: a later match wins, key by key."),
});
export type OrgPolicy = z.infer<typeof orgPolicySchema>;
export type Phase = "setup" | "agent" | "test";
export const phases: readonly Phase[] = ["setup", "agent", "test"];

export interface PhasePolicy {
  network: (typeof networkModes)[number];
  hosts: string[];
  presets: Preset[];
  addresses: Record<string, string>;
  secrets: string[];
  /** Whether `secrets` reach the phase when it runs code the agent wrote (an org ceiling; repositories cannot set it). */
  secrets_reach_agent_code: boolean;
}

/** The org's rules for one repository with every key filled in: Bosun's defaults, then the policy's. */
export interface ResolvedRules {
  enabled: boolean;
  modes: (typeof runModes)[number][];
  agents: AgentKind[];
  model: { base_url: string | null; name: string | null; api_key_secret: string | null; max_steps: number; max_tokens: number };
  who_may_start: { min_permission: (typeof permissions)[number]; users: string[]; teams: string[] };
  approve_outsider_issues: boolean;
  push_before_approval: boolean;
  require_protection_gate: boolean;
  protected_paths: string[];
  budgets: {
    runs_per_day_per_repository: number | null; sandbox_minutes_per_day_per_repository: number | null;
    runs_per_day_per_org: number | null; sandbox_minutes_per_day_per_org: number | null;
  };
  concurrency: { runs_per_repository: number | null; runs_per_org: number | null };
  retention: { transcript_days: number | null };
  transcript: { max_agent_events: number; max_agent_mb: number; on_limit: "drop" | "stop" };
  setup_cache: { enabled: boolean; max_age_days: number; max_total_mb_per_org: number };
  sandbox: {
    docker_outage_wait_minutes: number;
    runtime: "runc" | "runsc" | null;
    images: string[];
    /** The image of repositories that name none; null: the operator's BOSUN_AGENT_IMAGE. */
    default_image: string | null;
    limits: { memory_mb: number | null; cpus: number | null; pids: number | null; disk_mb: number | null; agent_minutes: number; inactivity_minutes: number; setup_minutes: number; test_minutes: number };
    phases: Record<Phase, PhasePolicy>;
  };
}

// A function, not a shared object: structuredClone keeps shared references shared, and the merge
// must never let a rule for one phase reach another.
const closedPhase = (): PhasePolicy => ({ network: "none", hosts: [], presets: [], addresses: {}, secrets: [], secrets_reach_agent_code: false });

/** What holds where an org has written nothing. */
export const bosunDefaults: ResolvedRules = {
  enabled: true,
  modes: ["plan", "pull_request"],
  agents: ["default", "command", "builtin", "codex", "claude"],
  model: { base_url: null, name: null, api_key_secret: null, max_steps: 40, max_tokens: 400_000 },
  who_may_start: { min_permission: "write", users: [], teams: [] },
  approve_outsider_issues: true,
  push_before_approval: false,
  require_protection_gate: true,
  protected_paths: [".github/workflows/**", ".github/actions/**", "CODEOWNERS", ".github/CODEOWNERS", "docs/CODEOWNERS", ".github/bosun.yml"],
  budgets: { runs_per_day_per_repository: null, sandbox_minutes_per_day_per_repository: null, runs_per_day_per_org: null, sandbox_minutes_per_day_per_org: null },
  concurrency: { runs_per_repository: null, runs_per_org: null },
  retention: { transcript_days: null },
  // Room for a long model run's account (a turn is a few events: message, tool call, result) while
  // a run's transcript, and what Bosun holds while recording it, stay a few MiB.
  transcript: { max_agent_events: 5000, max_agent_mb: 8, on_limit: "drop" },
  setup_cache: { enabled: true, max_age_days: 14, max_total_mb_per_org: 20_480 },
  sandbox: {
    docker_outage_wait_minutes: 10,
    runtime: null,
    images: [],
    default_image: null,
    limits: { memory_mb: null, cpus: null, pids: null, disk_mb: null, agent_minutes: 240, inactivity_minutes: 30, setup_minutes: 60, test_minutes: 60 },
    phases: {
      setup: { network: "allowlist", hosts: [], presets: ["npm", "pypi", "crates", "go", "maven", "rubygems"], addresses: {}, secrets: [], secrets_reach_agent_code: false },
      agent: closedPhase(),
      test: closedPhase(),
    },
  },
};

export function parseOrgPolicy(text: string | null, file = `${orgPolicyRepo}/${orgPolicyPath}`): { ok: true; policy: OrgPolicy } | { ok: false; problems: ConfigProblem[] } {
  const r = parseYamlSettings(orgPolicySchema, text, file);
  return r.ok ? { ok: true, policy: r.value } : r;
}

/** Secret values for a phase, from Bosun's environment. Throws naming the missing ones. */
export function secretValues(names: string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  const missing: string[] = [];
  for (const n of names) {
    const v = env[`BOSUN_SECRET_${n}`];
    if (v === undefined || v === "") missing.push(n);
    else out[n] = v;
  }
  if (missing.length) throw new Error(`policy names secret${missing.length > 1 ? "s" : ""} ${missing.join(", ")}, but Bosun has no value (set ${missing.map((m) => `BOSUN_SECRET_${m}`).join(", ")})`);
  return out;
}
