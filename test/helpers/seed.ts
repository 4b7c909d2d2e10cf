// The people and repository most end-to-end tests start from.
import type { OfflineGitHub } from "../offline-github/server.ts";
import { demoIssue, demoRepoFiles } from "../fixtures/demo-repo.ts";

/** acme/<name>: maya (maintainer, asks for work), owen (code owner, writer), tess (triage only). */
export async function seedDemoRepo(gh: OfflineGitHub, name: string, o: { files?: Record<string, string | null>; protect?: boolean; public?: boolean } = {}): Promise<void> {
  for (const login of ["maya", "owen", "tess"]) if (!gh.world.findAccount(login)) gh.createUser(login);
  if (!gh.world.orgs.has("acme")) {
    gh.createOrg("acme", { members: ["maya", "owen", "tess"] });
    gh.install("acme");
  }
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...demoRepoFiles, ...o.files })) if (v !== null) files[k] = v;
  await gh.createRepo(`acme/${name}`, { files, private: !o.public });
  gh.addCollaborator(`acme/${name}`, "maya", "maintain");
  gh.addCollaborator(`acme/${name}`, "owen", "write");
  gh.addCollaborator(`acme/${name}`, "tess", "triage");
  if (o.protect) {
    gh.protectBranch(`acme/${name}`, "main", {
      requiredStatusChecks: { strict: false, contexts: ["bosun", "bosun/independent-review"], apps: { bosun: gh.appId, "bosun/independent-review": gh.appId } },
      // A push after an approval needs a fresh one, from someone other than whoever pushed last.
      requiredPullRequestReviews: { requiredApprovingReviewCount: 1, requireCodeOwnerReviews: true, dismissStaleReviews: true, requireLastPushApproval: true },
      enforceAdmins: true,
    });
  }
}

/** Opens an issue as @maya (the demo's bug unless told otherwise), labels it for Bosun, and returns its number. */
export async function labelDemoIssue(gh: OfflineGitHub, repo: string, o: { title?: string; body?: string; label?: string } = {}): Promise<number> {
  const maya = gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo, title: o.title ?? demoIssue.title, body: o.body ?? demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo, issue_number: issue.data.number, labels: [o.label ?? "bosun"] });
  return issue.data.number;
}
