// `/bosun policy`: the settings in force for a repository, each with where it came from.
import { describeProblems, type ConfigProblem } from "../config/yaml-settings.ts";
import { defaultSource, type Adjustment, type EffectivePolicy, type Sources } from "./effective-policy.ts";

const scalar = (v: unknown): string => (typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v));
const code = (v: unknown): string => (Array.isArray(v) ? (v.length ? v.map((x) => `\`${scalar(x)}\``).join(", ") : "none") : v === null ? "no limit" : `\`${scalar(v)}\``);

export interface PolicyDescription {
  policySource: string; orgProblems?: ConfigProblem[]; repoProblems?: ConfigProblem[];
  resolved?: { policy: EffectivePolicy; sources: Sources; adjustments: Adjustment[] }; refusal?: Adjustment;
  commands?: { setup: string | null; test: string | null };
}

/** Every setting in force with its value as text and where it came from: `/bosun policy` and the dashboard. */
export function policyRows(o: PolicyDescription): { setting: string; value: string; from: string }[] {
  if (!o.resolved) return [];
  const { policy: p, sources: s } = o.resolved;
  const r = p.rules;
  const rows: [string, unknown, string | undefined][] = [
    ["enabled", r.enabled, s["enabled"]],
    ["modes", r.modes, s["modes"]],
    ["agent", `${p.agent.kind}: ${p.agent.command}`, s["agent.command"]],
    ["agents allowed", r.agents, s["agents"]],
    ["setup command", o.commands?.setup ?? "none", o.commands?.setup ? ".github/bosun.yml" : defaultSource],
    ["test command", o.commands?.test ?? "none", o.commands?.test ? ".github/bosun.yml" : defaultSource],
    ["who may start work", `${r.who_may_start.min_permission} or more${r.who_may_start.users.length ? `; users ${r.who_may_start.users.join(", ")}` : ""}${r.who_may_start.teams.length ? `; teams ${r.who_may_start.teams.join(", ")}` : ""}`, s["who_may_start.min_permission"]],
    ["issues from people without write access wait for approval", r.approve_outsider_issues, s["approve_outsider_issues"]],
    ["image", p.image, s["image"]],
    ["images allowed", r.sandbox.images, s["sandbox.images"]],
    ...(r.sandbox.default_image !== null ? [["default image of repositories that name none", r.sandbox.default_image, s["sandbox.default_image"]]] as [string, unknown, string | undefined][] : []),
    ["runtime", p.runtime, s["runtime"]],
    ...(["memory_mb", "cpus", "pids", "disk_mb", "agent_minutes", "inactivity_minutes", "setup_minutes", "test_minutes"] as const).map((k): [string, unknown, string | undefined] => [`limits.${k}`, p.limits[k], s[`limits.${k}`]]),
    ...(["setup", "agent", "test"] as const).flatMap((ph): [string, unknown, string | undefined][] => {
      const x = p.phases[ph];
      return [
        [`${ph}: network`, x.network, s[`sandbox.phases.${ph}.network`]],
        ...(x.network === "allowlist" ? [[`${ph}: presets`, x.presets, s[`sandbox.phases.${ph}.presets`]], [`${ph}: hosts`, x.hosts, s[`sandbox.phases.${ph}.hosts`]]] as [string, unknown, string | undefined][] : []),
        [`${ph}: secrets`, x.secrets, s[`sandbox.phases.${ph}.secrets`]],
        ...(p.withheldSecrets?.[ph]?.secrets.length ? [[`${ph}: secrets withheld (the phase runs code the agent wrote)`, p.withheldSecrets[ph].secrets, s[`sandbox.phases.${ph}.secrets_reach_agent_code`]]] as [string, unknown, string | undefined][] : []),
        ...(x.secrets_reach_agent_code ? [[`${ph}: secrets reach code the agent wrote`, true, s[`sandbox.phases.${ph}.secrets_reach_agent_code`]]] as [string, unknown, string | undefined][] : []),
      ];
    }),
    ...(Object.keys(r.budgets) as (keyof typeof r.budgets)[]).map((k): [string, unknown, string | undefined] => [`budgets.${k}`, r.budgets[k], s[`budgets.${k}`]]),
    ["protected paths", r.protected_paths, s["protected_paths"]],
    ["agent's change pushed before anyone approves it", r.push_before_approval, s["push_before_approval"]],
    ["base branch protection gate required", r.require_protection_gate, s["require_protection_gate"]],
    ["pull requests always drafts", p.draft, s["draft"]],
  ];
  return rows.map(([setting, v, from]) => ({ setting, value: code(v), from: from ?? defaultSource }));
}

export function describeEffectivePolicy(o: PolicyDescription): string {
  const lines = [`The settings in force for this repository (org policy: ${o.policySource}):`, ""];
  if (o.orgProblems) return [...lines, `The org's policy is **not valid**, so no run starts until an org admin fixes it:`, describeProblems(o.orgProblems)].join("\n");
  if (o.repoProblems) lines.push(`\`.github/bosun.yml\` is **not valid**, so no run starts until it is fixed:`, describeProblems(o.repoProblems), "");
  if (o.refusal) lines.push(`**No run starts:** ${o.refusal.message}`, "");
  if (!o.resolved) return lines.join("\n");
  lines.push("| setting | value | from |", "| --- | --- | --- |");
  for (const row of policyRows(o)) lines.push(`| ${row.setting} | ${row.value.replaceAll("|", "\\|")} | ${row.from} |`);
  const { adjustments } = o.resolved;
  if (adjustments.length) lines.push("", "Where the repository asked for more than the org allows:", ...adjustments.map((a) => `- ${a.message}`));
  return lines.join("\n");
}
