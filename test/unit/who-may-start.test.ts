// Who may start work, table by table: permission, listed users, listed teams, bots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseOrgPolicy } from "../../src/config/org-policy.ts";
import { orgRulesFor } from "../../src/policy/effective-policy.ts";
import { mayStartWork } from "../../src/policy/who-may-start.ts";

function policy(yaml: string) {
  const r = parseOrgPolicy(yaml);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return orgRulesFor(r.policy, "app").rules;
}

const cases: { name: string; yaml: string; login: string; role: string; type?: string; teams?: string[]; allowed: boolean; reason: RegExp }[] = [
  { name: "default: write may", yaml: "", login: "wes", role: "write", allowed: true, reason: /has write access .*write or more/ },
  { name: "default: triage may not", yaml: "", login: "tess", role: "triage", allowed: false, reason: /@tess has triage access to acme\/app; the org's policy needs write or more\.$/ },
  { name: "default: no access", yaml: "", login: "eve", role: "none", allowed: false, reason: /has no access/ },
  { name: "raised minimum refuses a writer", yaml: "who_may_start:\n  min_permission: maintain\n", login: "wes", role: "write", allowed: false, reason: /needs maintain or more\.$/ },
  { name: "raised minimum admits a maintainer", yaml: "who_may_start:\n  min_permission: maintain\n", login: "maya", role: "maintain", allowed: true, reason: /maintain or more/ },
  { name: "a listed user below the minimum", yaml: "who_may_start:\n  users: [Tess]\n", login: "tess", role: "triage", allowed: true, reason: /listed in the org policy's who_may_start\.users/ },
  { name: "a listed team's member below the minimum", yaml: "who_may_start:\n  min_permission: admin\n  teams: [core]\n", login: "owen", role: "write", teams: ["core"], allowed: true, reason: /member of @acme\/core/ },
  { name: "not in the listed team", yaml: "who_may_start:\n  min_permission: admin\n  teams: [core]\n", login: "wes", role: "write", teams: [], allowed: false, reason: /needs admin or more, or a member of @acme\/core\.$/ },
  { name: "a bot never, even an admin one", yaml: "who_may_start:\n  users: [robot]\n", login: "robot", role: "admin", type: "Bot", allowed: false, reason: /is a bot/ },
];

for (const c of cases) {
  test(`who may start work: ${c.name}`, async () => {
    const d = await mayStartWork({
      rules: policy(c.yaml), login: c.login, accountType: c.type ?? "User", role: c.role, repo: "acme/app", org: "acme",
      isTeamMember: (slug) => Promise.resolve((c.teams ?? []).includes(slug)),
    });
    assert.equal(d.allowed, c.allowed);
    assert.match(d.reason, c.reason);
  });
}
