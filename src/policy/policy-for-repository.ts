// The settings in force for one repository, from the org's loaded policy and the repository's own
// file as text: what `/bosun policy` answers and what the dashboard shows an org admin.
import type { LoadedPolicy } from "../config/load-org-policy.ts";
import { parseRepoConfig, type RepoConfig } from "../config/repo-config.ts";
import type { PolicyDescription } from "./describe-policy.ts";
import { applyRepositoryChoices, orgRulesFor, type OperatorSettings } from "./effective-policy.ts";

export function policyForRepository(o: { org: LoadedPolicy; repo: string; repoText: string | null; operator: OperatorSettings }): PolicyDescription {
  const { org } = o;
  if (!org.ok) return { policySource: "the org's .github repository", orgProblems: org.problems };
  const repo = parseRepoConfig(o.repoText);
  const rules = orgRulesFor(org.policy, o.repo, org.source);
  const resolved = applyRepositoryChoices({ org: rules, config: repo.ok ? repo.config : bosunRepoDefaults(), raw: repo.ok ? repo.raw : {}, operator: o.operator });
  return {
    policySource: org.source,
    ...(repo.ok ? {} : { repoProblems: repo.problems }),
    ...(resolved.ok ? { resolved } : { refusal: resolved.refusal }),
    ...(repo.ok ? { commands: { setup: repo.config.setup.command, test: repo.config.test.command } } : {}),
  };
}

function bosunRepoDefaults(): RepoConfig {
  const r = parseRepoConfig(null);
  if (!r.ok) throw new Error("[bosun/config] Bosun's own defaults do not parse");
  return r.config;
}
