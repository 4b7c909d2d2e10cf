// The people and repository most end-to-end tests start from.
import type { OfflineGitHub } from "../offline-github/server.ts";
import { demoRepoFiles } from "../fixtures/demo-repo.ts";

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
      requiredPullRequestReviews: { requiredApprovingReviewCount: 1, requireCodeOwnerReviews: true, dismissStaleReviews: false },
      enforceAdmins: true,
    });
  }
}
