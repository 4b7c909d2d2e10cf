// The org's policy decides who may start work: here admins, and the members of one team.
import { test } from "node:test";
import assert from "node:assert/strict";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

test("a team listed in the org policy may start work; a writer outside it may not", async (t) => {
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "guarded");
  w.gh.createUser("wes");
  w.gh.addCollaborator("acme/guarded", "wes", "write");
  w.gh.createTeam("acme", "core", { members: ["owen"] });
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "who_may_start:\n  min_permission: admin\n  teams: [core]\n" } });
  const open = async (who: string): Promise<number> => {
    const issue = await w.gh.as("maya").rest.issues.create({ owner: "acme", repo: "guarded", title: demoIssue.title, body: demoIssue.body });
    await w.gh.as(who).rest.issues.addLabels({ owner: "acme", repo: "guarded", issue_number: issue.data.number, labels: ["bosun:plan"] });
    return issue.data.number;
  };

  const byOwen = await w.waitForRun({ repo: "acme/guarded", issue: await open("owen") });
  assert.equal(byOwen.state, "succeeded", byOwen.outcome ?? "");

  const wesIssue = await open("wes");
  const byWes = await w.waitForRun({ repo: "acme/guarded", issue: wesIssue });
  assert.equal(byWes.state, "refused");
  const comment = [...w.gh.repo("acme/guarded").comments.values()].find((c) => c.issueNumber === wesIssue && c.user === "bosun[bot]");
  assert.match(comment?.body ?? "", /Bosun did not start: @wes has write access to acme\/guarded; the org's policy needs admin or more, or a member of @acme\/core\./);
  const membershipTokens = w.gh.installationTokens().filter((tk) => tk.permissions["members"] === "read");
  assert.ok(membershipTokens.length >= 2 && membershipTokens.every((tk) => tk.revokedAt), "team checks used short-lived members:read tokens");
});
