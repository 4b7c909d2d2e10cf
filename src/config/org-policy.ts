// The org's binding policy: `.github/bosun.yml` in the org's `.github` repository. This file
// holds the sandbox part (runtime, and per phase the network and secrets); a repository cannot
// loosen it. Secret values never live in a repository: policy names them, Bosun's environment
// (BOSUN_SECRET_<NAME>) holds them.
import { z } from "zod";
import { parseYamlSettings, type ConfigProblem } from "./yaml-settings.ts";

export const orgPolicyRepo = ".github";
export const orgPolicyPath = ".github/bosun.yml";

const secretName = z.string().regex(/^[A-Z][A-Z0-9_]*$/, "secret names are upper case, digits and _");

const registryPresets = ["npm", "pypi", "crates", "go", "maven", "rubygems", "debian"] as const;
type Preset = (typeof registryPresets)[number];

/** One phase's settings; only the defaults differ between phases. */
function phaseSchema(defaults: { network: "none" | "allowlist"; presets: Preset[] }) {
  return z.strictObject({
    network: z.enum(["none", "allowlist"]).default(defaults.network).describe("`none`: no network at all; `allowlist`: only through Bosun's recording proxy, to the hosts listed."),
    hosts: z.array(z.string().min(1)).default([]).describe("Names, `*.` wildcards and `name:port` the phase may reach (ports 80 and 443 when none is given)."),
    presets: z.array(z.enum(registryPresets)).default(defaults.presets).describe("Package registries the phase may reach; `npm` and `debian` are where this Bosun host's npm and apt fetch from."),
    addresses: z.record(z.string(), z.string()).default({}).describe("Name → address pins; a pinned address counts as listed, even inside the host's own networks."),
    secrets: z.array(secretName).default([]).describe("Secrets given to the phase as environment variables; values come from BOSUN_SECRET_<NAME>."),
  });
}
const setupPhase = phaseSchema({ network: "allowlist", presets: ["npm", "pypi", "crates", "go", "maven", "rubygems"] });
const closedPhase = phaseSchema({ network: "none", presets: [] });
export type PhasePolicy = z.infer<typeof closedPhase>;

const defaultPhases = {
  setup: { network: "allowlist" as const, hosts: [], presets: ["npm", "pypi", "crates", "go", "maven", "rubygems"] as Preset[], addresses: {}, secrets: [] },
  agent: { network: "none" as const, hosts: [], presets: [], addresses: {}, secrets: [] },
  test: { network: "none" as const, hosts: [], presets: [], addresses: {}, secrets: [] },
};

export const orgPolicySchema = z.strictObject({
  who_may_start: z.strictObject({
    min_permission: z.enum(["read", "triage", "write", "maintain", "admin"]).default("write").describe("The least permission on the repository that lets someone label an issue for Bosun or give it commands."),
    users: z.array(z.string().min(1)).default([]).describe("People who may start work whatever their permission."),
    teams: z.array(z.string().min(1)).default([]).describe("Team slugs of the org whose members may start work whatever their permission."),
  }).default({ min_permission: "write", users: [], teams: [] }),
  budgets: z.strictObject({
    runs_per_day_per_repository: z.number().int().min(0).optional().describe("Runs one repository may start per day (UTC); none means no limit."),
    runs_per_day_per_org: z.number().int().min(0).optional().describe("Runs all of the org's repositories together may start per day (UTC); none means no limit."),
  }).default({}),
  sandbox: z.strictObject({
    runtime: z.enum(["runc", "runsc"]).optional().describe("`runsc` requires gVisor for every run; a host without it refuses runs rather than fall back (default: BOSUN_RUNTIME)."),
    images: z.array(z.string().min(1)).default([]).describe("Images repositories may choose, besides the operator's BOSUN_AGENT_IMAGE."),
    phases: z.strictObject({
      setup: setupPhase.default(defaultPhases.setup),
      agent: closedPhase.default(defaultPhases.agent),
      test: closedPhase.default(defaultPhases.test),
    }).default(defaultPhases),
  }).default({ images: [], phases: defaultPhases }),
});
export type OrgPolicy = z.infer<typeof orgPolicySchema>;
export type Phase = keyof OrgPolicy["sandbox"]["phases"];

export function parseOrgPolicy(text: string | null, file = `${orgPolicyRepo}/${orgPolicyPath}`): { ok: true; policy: OrgPolicy } | { ok: false; problems: ConfigProblem[] } {
  const r = parseYamlSettings(orgPolicySchema, text, file);
  return r.ok ? { ok: true, policy: r.value } : r;
}

/** The policy of an org that has written none. */
export function defaultOrgPolicy(): OrgPolicy {
  return orgPolicySchema.parse({});
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
