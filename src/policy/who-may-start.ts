// Who may start work or give commands: a minimum permission on the repository, or a listed user,
// or a member of a listed team; never a bot. The org policy decides (`who_may_start`).
import type { ResolvedRules } from "../config/org-policy.ts";

const roleOrder = ["none", "read", "triage", "write", "maintain", "admin"];

/** Write, maintain or admin: what reviewing, approving issue text and trusting a comment need. */
export function hasWriteAccess(role: string): boolean {
  return roleOrder.indexOf(role) >= roleOrder.indexOf("write");
}

export interface StartDecision { allowed: boolean; reason: string }

export async function mayStartWork(o: {
  rules: Pick<ResolvedRules, "who_may_start">; login: string; accountType: string | undefined; role: string; repo: string; org: string;
  isTeamMember: (slug: string) => Promise<boolean>;
}): Promise<StartDecision> {
  const rule = o.rules.who_may_start;
  if (o.accountType === "Bot") return { allowed: false, reason: `@${o.login} is a bot; Bosun only takes work from people.` };
  if (roleOrder.indexOf(o.role) >= roleOrder.indexOf(rule.min_permission)) {
    return { allowed: true, reason: `@${o.login} has ${o.role} access to ${o.repo} (policy: ${rule.min_permission} or more).` };
  }
  if (rule.users.some((u) => u.toLowerCase() === o.login.toLowerCase())) {
    return { allowed: true, reason: `@${o.login} is listed in the org policy's who_may_start.users.` };
  }
  for (const team of rule.teams) {
    if (await o.isTeamMember(team)) return { allowed: true, reason: `@${o.login} is a member of @${o.org}/${team}, listed in the org policy's who_may_start.teams.` };
  }
  const also = [rule.users.length ? "a listed user" : "", rule.teams.length ? `a member of ${rule.teams.map((t) => `@${o.org}/${t}`).join(" or ")}` : ""].filter(Boolean).join(", or ");
  return {
    allowed: false,
    reason: `@${o.login} has ${o.role === "none" ? "no" : o.role} access to ${o.repo}; the org's policy needs ${rule.min_permission} or more${also ? `, or ${also}` : ""}.`,
  };
}

/** The team check as GitHub answers it: a membership exists (404 when it does not). */
export function teamChecker(octokit: { rest: { teams: { getMembershipForUserInOrg(p: { org: string; team_slug: string; username: string }): Promise<{ data: { state?: string } }> } } }, org: string, login: string): (slug: string) => Promise<boolean> {
  return async (slug) => {
    try {
      const m = await octokit.rest.teams.getMembershipForUserInOrg({ org, team_slug: slug, username: login });
      return m.data.state === "active";
    } catch {
      return false;
    }
  };
}
