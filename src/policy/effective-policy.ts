// The settings a run works under, and where each came from. Two steps:
//   1. the org's rules for one repository: Bosun's defaults, then the org policy's top level,
//      then every `repositories` entry that matches the repository's name, in order (key by key);
//   2. the repository's choices within those rules: a choice above a ceiling gets the ceiling, a
//      host, preset or secret outside the allowed ones is not given, and each such answer names
//      the rule that gave it. An image or agent the rules do not allow refuses the run instead:
//      running something other than what the repository asked for would be a surprise.
import { minimatch } from "minimatch";
import {
  bosunDefaults, modelAgentKinds, phases, type AgentKind, type ModelAgentKind, type OrgPolicy, type Phase, type PhasePolicy, type ResolvedRules,
} from "../config/org-policy.ts";
import type { Env } from "../config/env.ts";
import type { RepoConfig } from "../config/repo-config.ts";
import { entryWithin, expandPresets } from "../sandbox/egress/allowlist.ts";

/** What the operator's environment sets: the hard ceilings an org policy cannot raise. */
export interface OperatorSettings {
  image: string;
  /** The image of the CLI agents (`codex`, `claude`): allowed like `image`, and their default. */
  cliAgentImage: string;
  /** The image with the common toolchains: allowed like `image`; an org's `sandbox.default_image` may name it. */
  universalImage: string;
  defaultAgentCommand: string;
  runtime: "runc" | "runsc";
  memoryMb: number;
  cpus: number;
  pids: number;
  diskMb: number;
}

export function operatorSettings(env: Env): OperatorSettings {
  return {
    image: env.BOSUN_AGENT_IMAGE, cliAgentImage: env.BOSUN_CLI_AGENT_IMAGE, universalImage: env.BOSUN_UNIVERSAL_AGENT_IMAGE, defaultAgentCommand: env.BOSUN_DEFAULT_AGENT_COMMAND, runtime: env.BOSUN_RUNTIME,
    memoryMb: env.BOSUN_SANDBOX_MEMORY_MB, cpus: env.BOSUN_SANDBOX_CPUS, pids: env.BOSUN_SANDBOX_PIDS, diskMb: env.BOSUN_SANDBOX_DISK_MB,
  };
}

/** Dotted key → where its value came from, in words for `/bosun policy` and the transcript. */
export type Sources = Record<string, string>;

export interface RulesForRepository {
  rules: ResolvedRules;
  sources: Sources;
  /** The `repositories` entries that matched, by index. */
  matched: number[];
}

export const defaultSource = "Bosun's default";

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Leaves are scalars, lists and the `addresses` maps (replaced whole, never merged key by key). */
function isLeaf(key: string, v: unknown): boolean {
  return !isPlainObject(v) || key === "addresses";
}

function markAll(value: unknown, path: string[], source: string, sources: Sources): void {
  const key = path[path.length - 1] ?? "";
  if (path.length && isLeaf(key, value)) {
    sources[path.join(".")] = source;
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) markAll(v, [...path, k], source, sources);
}

function overlay(target: Record<string, unknown>, partial: Record<string, unknown>, path: string[], source: string, sources: Sources): void {
  for (const [k, v] of Object.entries(partial)) {
    if (v === undefined || k === "match" || k === "repositories") continue;
    const p = [...path, k];
    const current = target[k];
    if (!isLeaf(k, v) && isPlainObject(current)) {
      overlay(current, v as Record<string, unknown>, p, source, sources);
      continue;
    }
    target[k] = structuredClone(v);
    markAll(v, p, source, sources);
  }
}

export function repositoryMatches(match: string | string[], repo: string): boolean {
  return (Array.isArray(match) ? match : [match]).some((glob) => minimatch(repo, glob, { nocase: true, dot: true }));
}

/**
 * Step 1: the org's rules for `repo` (its name, without the owner). `policySource` names the
 * file the policy came from; null policy means the org has written none.
 */
export function orgRulesFor(policy: OrgPolicy | null, repo: string, policySource = "org policy"): RulesForRepository {
  const rules = structuredClone(bosunDefaults);
  const sources: Sources = {};
  markAll(rules, [], defaultSource, sources);
  const matched: number[] = [];
  if (policy) {
    overlay(rules as unknown as Record<string, unknown>, policy, [], policySource, sources);
    (policy.repositories ?? []).forEach((entry, i) => {
      if (!repositoryMatches(entry.match, repo)) return;
      matched.push(i);
      const globs = (Array.isArray(entry.match) ? entry.match : [entry.match]).join(", ");
      overlay(rules as unknown as Record<string, unknown>, entry, [], `${policySource}, repositories[${i}] (${globs})`, sources);
    });
  }
  return { rules, sources, matched };
}

/** A repository's choice that the rules answered differently, and which rule did. */
export interface Adjustment {
  key: string;
  asked: unknown;
  given: unknown;
  /** The org rule's key, e.g. `sandbox.limits.agent_minutes`. */
  rule: string;
  /** Where that rule's value came from. */
  source: string;
  message: string;
}

export interface EffectivePolicy {
  rules: ResolvedRules;
  runtime: "runc" | "runsc";
  image: string;
  agent: { kind: AgentKind; command: string };
  limits: { memory_mb: number; cpus: number; pids: number; disk_mb: number; agent_minutes: number; inactivity_minutes: number; setup_minutes: number; test_minutes: number };
  phases: Record<Phase, PhasePolicy>;
  /** Open pull requests as drafts whatever the checks say (the repository's choice). */
  draft: boolean;
  /** Secrets the org names for a phase that it does not get, because the phase runs code the agent wrote. */
  withheldSecrets?: Partial<Record<Phase, { secrets: string[]; reason: string }>>;
}

export type Resolution =
  | { ok: true; policy: EffectivePolicy; sources: Sources; adjustments: Adjustment[] }
  | { ok: false; refusal: Adjustment };

function has(raw: unknown, path: string[]): boolean {
  let v: unknown = raw;
  for (const k of path) {
    if (!isPlainObject(v) || !(k in v)) return false;
    v = v[k];
  }
  return v !== undefined && v !== null;
}

const repoFile = ".github/bosun.yml";
const list = (xs: unknown[]): string => xs.map((x) => `\`${String(x)}\``).join(", ");

/**
 * Step 2: the repository's `.github/bosun.yml` (parsed `config`, and `raw` as written) within
 * the org's rules. `presetHosts` expands registry presets (injected so tests need no host config).
 */
export function applyRepositoryChoices(o: {
  org: RulesForRepository; config: RepoConfig; raw: unknown; operator: OperatorSettings;
  presetHosts?: (presets: string[]) => string[];
  /** A follow-up run: its setup installs from the previous agent's commit. */
  followUp?: boolean;
}): Resolution {
  const { rules, sources: orgSources } = o.org;
  const { config, raw, operator } = o;
  const presetHosts = o.presetHosts ?? expandPresets;
  const sources: Sources = { ...orgSources };
  const adjustments: Adjustment[] = [];
  const adjust = (key: string, asked: unknown, given: unknown, rule: string, why: string, source = orgSources[rule] ?? defaultSource): void => {
    adjustments.push({ key, asked, given, rule, source, message: `\`${key}\`: ${why} (\`${rule}\`, ${source}).` });
  };

  // Image: the repository's, if the org allows it; else the operator's CLI image for the CLI
  // agents, and for the others the org's default image or the operator's.
  const cliAgent = config.agent.use === "codex" || config.agent.use === "claude";
  const images = [...new Set([operator.image, operator.cliAgentImage, operator.universalImage, ...rules.sandbox.images])];
  const orgDefault = rules.sandbox.default_image;
  if (orgDefault !== null && !images.includes(orgDefault)) {
    // A policy error, whatever the repository asks for: the org would otherwise learn of it only
    // from the repositories that happen to name no image.
    const source = orgSources["sandbox.default_image"] ?? defaultSource;
    return { ok: false, refusal: { key: "sandbox.default_image", asked: orgDefault, given: null, rule: "sandbox.default_image", source,
      message: `\`sandbox.default_image\`: \`${orgDefault}\` is not an image the org allows (${source}); allowed: ${list(images)} (the operator's BOSUN_AGENT_IMAGE, BOSUN_CLI_AGENT_IMAGE and BOSUN_UNIVERSAL_AGENT_IMAGE, and \`sandbox.images\`). An org admin can add it under \`sandbox.images\` or name an allowed one.` } };
  }
  const image = config.image ?? (cliAgent ? operator.cliAgentImage : orgDefault ?? operator.image);
  sources["image"] = config.image ? repoFile : cliAgent ? "the operator's BOSUN_CLI_AGENT_IMAGE"
    : orgDefault !== null ? `\`sandbox.default_image\` (${orgSources["sandbox.default_image"] ?? defaultSource})` : "the operator's BOSUN_AGENT_IMAGE";
  if (!images.includes(image)) {
    return { ok: false, refusal: { key: "image", asked: image, given: null, rule: "sandbox.images", source: orgSources["sandbox.images"] ?? defaultSource,
      message: `\`image\`: \`${image}\` is not allowed (\`sandbox.images\`, ${orgSources["sandbox.images"] ?? defaultSource}); allowed: ${list(images)}. An org admin can add it under \`sandbox.images\`.` } };
  }

  // Agent: the operator's default, the repository's own command, or one that talks to the org's model, when the org allows it.
  if (config.agent.command && config.agent.use) {
    return { ok: false, refusal: { key: "agent.use", asked: config.agent.use, given: null, rule: "agent", source: repoFile,
      message: `\`agent\`: the repository names both its own \`command\` and \`use: ${config.agent.use}\`; keep one.` } };
  }
  const kind: AgentKind = config.agent.command ? "command" : config.agent.use ?? "default";
  const modelAgent = isModelAgent(kind) ? kind : null;
  if (!rules.agents.includes(kind)) {
    const what = kind === "command" ? `its own agent command \`${config.agent.command ?? ""}\`` : modelAgent ? modelAgentNames[modelAgent] : "Bosun's default agent";
    const key = modelAgent ? "agent.use" : "agent.command";
    return { ok: false, refusal: { key, asked: kind, given: null, rule: "agents", source: orgSources["agents"] ?? defaultSource,
      message: `\`${key}\`: the repository asks for ${what}, which the org's \`agents\` does not allow (${orgSources["agents"] ?? defaultSource}); allowed: ${list(rules.agents)}.` } };
  }
  const agent = { kind, command: modelAgent ? modelAgentCommands[modelAgent] : config.agent.command ?? operator.defaultAgentCommand };
  sources["agent.command"] = kind === "default" ? "the operator's BOSUN_DEFAULT_AGENT_COMMAND" : repoFile;

  // Runtime: gVisor when the operator or the rules ask for it; nothing can ask for less.
  const runtime = operator.runtime === "runsc" || rules.sandbox.runtime === "runsc" ? "runsc" : "runc";
  sources["runtime"] = operator.runtime === "runsc" ? "the operator's BOSUN_RUNTIME" : rules.sandbox.runtime === "runsc" ? orgSources["sandbox.runtime"] ?? defaultSource : "the operator's BOSUN_RUNTIME";

  // Resource ceilings: the operator's figure, lowered (never raised) by the rules.
  const resource = (key: "memory_mb" | "cpus" | "pids" | "disk_mb", operatorValue: number, envName: string): number => {
    const orgValue = rules.sandbox.limits[key];
    let ceiling = operatorValue;
    let ceilingSource = `the operator's ${envName}`;
    if (orgValue !== null && orgValue <= operatorValue) {
      ceiling = orgValue;
      ceilingSource = orgSources[`sandbox.limits.${key}`] ?? defaultSource;
    } else if (orgValue !== null) {
      adjust(`sandbox.limits.${key}`, orgValue, operatorValue, `sandbox.limits.${key}`, `the org asks for ${orgValue}, above the operator's ${envName} of ${operatorValue}, so ${operatorValue} holds`, `the operator's ${envName}`);
    }
    const asked = config.sandbox[key];
    if (asked === undefined) {
      sources[`limits.${key}`] = ceilingSource;
      return ceiling;
    }
    if (asked > ceiling) {
      adjust(`sandbox.${key}`, asked, ceiling, `sandbox.limits.${key}`, `asked for ${asked}, given the ceiling ${ceiling}`, ceilingSource);
      sources[`limits.${key}`] = ceilingSource;
      return ceiling;
    }
    sources[`limits.${key}`] = repoFile;
    return asked;
  };
  // Timeouts: the repository's figure (or its default), held to the rules' ceiling.
  const timeout = (repoKey: string, asked: number, ceilingKey: "agent_minutes" | "inactivity_minutes" | "setup_minutes" | "test_minutes"): number => {
    const ceiling = rules.sandbox.limits[ceilingKey];
    const explicit = has(raw, repoKey.split("."));
    if (asked <= ceiling) {
      sources[`limits.${ceilingKey}`] = explicit ? repoFile : defaultSource;
      return asked;
    }
    if (explicit) adjust(repoKey, asked, ceiling, `sandbox.limits.${ceilingKey}`, `asked for ${asked} minutes, given the ceiling ${ceiling}`);
    sources[`limits.${ceilingKey}`] = orgSources[`sandbox.limits.${ceilingKey}`] ?? defaultSource;
    return ceiling;
  };
  const limits = {
    memory_mb: resource("memory_mb", operator.memoryMb, "BOSUN_SANDBOX_MEMORY_MB"),
    cpus: resource("cpus", operator.cpus, "BOSUN_SANDBOX_CPUS"),
    pids: resource("pids", operator.pids, "BOSUN_SANDBOX_PIDS"),
    disk_mb: resource("disk_mb", operator.diskMb, "BOSUN_SANDBOX_DISK_MB"),
    agent_minutes: timeout("agent.timeout_minutes", config.agent.timeout_minutes, "agent_minutes"),
    inactivity_minutes: timeout("agent.inactivity_minutes", config.agent.inactivity_minutes, "inactivity_minutes"),
    setup_minutes: timeout("setup.timeout_minutes", config.setup.timeout_minutes, "setup_minutes"),
    test_minutes: timeout("test.timeout_minutes", config.test.timeout_minutes, "test_minutes"),
  };

  // Per phase: network, hosts, presets and secrets, each narrowed to what the rules allow.
  const phasePolicies = {} as Record<Phase, PhasePolicy>;
  for (const phase of phases) {
    const allowed = rules.sandbox.phases[phase];
    const choice = config.sandbox.phases?.[phase] ?? {};
    const at = `sandbox.phases.${phase}`;
    const given: PhasePolicy = structuredClone(allowed);
    if (choice.network === "none") {
      given.network = "none";
      sources[`${at}.network`] = repoFile;
    } else if (choice.network === "allowlist" && allowed.network === "none") {
      adjust(`${at}.network`, "allowlist", "none", `${at}.network`, "asked for `allowlist`, given `none`: the org gives this phase no network");
    }
    if (choice.presets) {
      const outside = choice.presets.filter((p) => !allowed.presets.includes(p));
      given.presets = choice.presets.filter((p) => allowed.presets.includes(p));
      sources[`${at}.presets`] = repoFile;
      if (outside.length) adjust(`${at}.presets`, choice.presets, given.presets, `${at}.presets`, `${list(outside)} not given: outside the org's presets for ${phase} (${list(allowed.presets) || "none"})`);
    }
    if (choice.hosts) {
      const allowedHosts = [...allowed.hosts, ...presetHosts(allowed.presets)];
      const outside = choice.hosts.filter((h) => !entryWithin(h, allowedHosts));
      given.hosts = choice.hosts.filter((h) => entryWithin(h, allowedHosts));
      sources[`${at}.hosts`] = repoFile;
      if (outside.length) adjust(`${at}.hosts`, choice.hosts, given.hosts, `${at}.hosts`, `${list(outside)} not given: outside the org's hosts and presets for ${phase}`);
    }
    if (choice.secrets) {
      const outside = choice.secrets.filter((s) => !allowed.secrets.includes(s));
      given.secrets = choice.secrets.filter((s) => allowed.secrets.includes(s));
      sources[`${at}.secrets`] = repoFile;
      if (outside.length) adjust(`${at}.secrets`, choice.secrets, given.secrets, `${at}.secrets`, `${list(outside)} not given: the org does not give ${outside.length === 1 ? "it" : "them"} to the ${phase} phase`);
    }
    phasePolicies[phase] = given;
  }

  if (modelAgent) {
    const problem = modelAgentProblem(rules, phasePolicies.agent, presetHosts);
    if (problem) return { ok: false, refusal: { key: "agent.use", asked: modelAgent, given: null, rule: problem.rule, source: orgSources[problem.rule] ?? defaultSource, message: `\`agent.use: ${modelAgent}\`: ${problem.message}` } };
    const secret = rules.model.api_key_secret;
    // The key goes to the agent phase only: the setup and test phases never see it.
    if (secret && !phasePolicies.agent.secrets.includes(secret)) phasePolicies.agent.secrets.push(secret);
  }

  // Code the agent wrote gets no secret unless the org says so in words (`secrets_reach_agent_code`).
  const withheldSecrets: NonNullable<EffectivePolicy["withheldSecrets"]> = {};
  for (const phase of phases) {
    const at = `sandbox.phases.${phase}`;
    const { given, withheld, reason } = agentCodeSecrets(phase, phasePolicies[phase], { followUp: o.followUp ?? false, modelKey: rules.model.api_key_secret });
    if (!withheld.length) continue;
    const asked = phasePolicies[phase].secrets;
    phasePolicies[phase].secrets = given;
    withheldSecrets[phase] = { secrets: withheld, reason };
    adjust(`${at}.secrets`, asked, given, `${at}.secrets_reach_agent_code`, `${list(withheld)} withheld: ${reason}`);
  }

  sources["draft"] = has(raw, ["pull_request", "draft"]) ? repoFile : defaultSource;
  return {
    ok: true,
    policy: { rules, runtime, image, agent, limits, phases: phasePolicies, draft: config.pull_request.draft, withheldSecrets },
    sources,
    adjustments,
  };
}

/**
 * Whether a phase runs code the agent wrote: the agent phase (the agent runs what it writes), the
 * test phase (the agent's commit) and, on a follow-up run, setup (it installs from the previous
 * agent's commit, so that agent's install scripts run).
 */
export function runsAgentCode(phase: Phase, followUp: boolean): boolean {
  return phase !== "setup" || followUp;
}

/**
 * The secrets a phase gets, and the ones withheld from it: a phase that runs code the agent wrote
 * gets none unless the org sets `secrets_reach_agent_code` for it, except the agent phase, which
 * keeps the model's key (`model.api_key_secret`, named by the org in words as the model's key).
 */
export function agentCodeSecrets(phase: Phase, policy: Pick<PhasePolicy, "secrets" | "secrets_reach_agent_code">, o: { followUp: boolean; modelKey: string | null; testSetup?: boolean }): { given: string[]; withheld: string[]; reason: string } {
  if (!runsAgentCode(phase, o.followUp || o.testSetup === true) || policy.secrets_reach_agent_code === true) return { given: policy.secrets, withheld: [], reason: "" };
  const keep = phase === "agent" && o.modelKey ? [o.modelKey] : [];
  const given = policy.secrets.filter((s) => keep.includes(s));
  const withheld = policy.secrets.filter((s) => !keep.includes(s));
  const what = phase === "agent" ? "the agent phase runs code the agent writes, and only the model's key (`model.api_key_secret`) reaches it"
    : phase === "test" ? "the test phase runs the agent's commit"
    : o.testSetup ? "the setup before the tests installs the agent's commit, running its install scripts"
    : "this follow-up's setup installs from the previous agent's commit, running its install scripts";
  return { given, withheld, reason: `${what}; the org's policy does not set \`sandbox.phases.${phase}.secrets_reach_agent_code\`` };
}

/** Where the model agents live in the sandbox (copied with Bosun's other agents into /bosun/agents). */
export const modelAgentCommands: Record<ModelAgentKind, string> = {
  builtin: "node /bosun/agents/builtin-agent.mjs",
  codex: "node /bosun/agents/codex-agent.mjs",
  claude: "node /bosun/agents/claude-agent.mjs",
};
export const builtinAgentCommand = modelAgentCommands.builtin;
const modelAgentNames: Record<ModelAgentKind, string> = { builtin: "Bosun's builtin agent", codex: "the Codex CLI", claude: "Claude Code" };

export function isModelAgent(kind: AgentKind): kind is ModelAgentKind {
  return (modelAgentKinds as readonly string[]).includes(kind);
}

/** Why a model agent cannot work under these rules: no model, or a model the agent phase cannot reach or pay for. */
export function modelAgentProblem(rules: ResolvedRules, agentPhase: PhasePolicy, presetHosts: (presets: string[]) => string[]): { rule: string; message: string } | null {
  const m = rules.model;
  if (!m.base_url || !m.name) return { rule: "model", message: "the org's policy names no model (`model.base_url` and `model.name`) for it to talk to." };
  const url = new URL(m.base_url);
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const host = `${url.hostname}:${port}`;
  if (agentPhase.network !== "allowlist" || !entryWithin(host, [...agentPhase.hosts, ...presetHosts(agentPhase.presets)])) {
    return { rule: "sandbox.phases.agent.hosts", message: `the model is at \`${host}\`, which the agent phase may not reach (network \`${agentPhase.network}\`, hosts ${list(agentPhase.hosts) || "none"}). An org admin adds it to \`sandbox.phases.agent.hosts\`.` };
  }
  if (m.api_key_secret && !rules.sandbox.phases.agent.secrets.includes(m.api_key_secret)) {
    return { rule: "sandbox.phases.agent.secrets", message: `the model's key is the secret \`${m.api_key_secret}\`, which the org does not give the agent phase (\`sandbox.phases.agent.secrets\`).` };
  }
  return null;
}

/** The whole merge for one repository: org rules, then the repository's choices. */
export function resolvePolicy(o: { org: OrgPolicy | null; policySource?: string; repo: string; config: RepoConfig; raw: unknown; operator: OperatorSettings; presetHosts?: (presets: string[]) => string[]; followUp?: boolean }): Resolution & { matched?: number[] } {
  const org = orgRulesFor(o.org, o.repo, o.policySource);
  return { ...applyRepositoryChoices({ org, config: o.config, raw: o.raw, operator: o.operator, ...(o.presetHosts ? { presetHosts: o.presetHosts } : {}), ...(o.followUp ? { followUp: true } : {}) }), matched: org.matched };
}
