// The people and repositories end-to-end tests start from.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { OfflineGitHub } from "../offline-github/server.ts";
import { demoIssue, demoRepoFiles } from "../fixtures/demo-repo.ts";

/** acme/<name> holding exactly `files`: maya (maintainer, asks for work), owen (code owner, writer), tess (triage only). */
export async function seedRepo(gh: OfflineGitHub, name: string, o: { files: Record<string, string>; protect?: boolean; public?: boolean }): Promise<void> {
  for (const login of ["maya", "owen", "tess"]) if (!gh.world.findAccount(login)) gh.createUser(login);
  if (!gh.world.orgs.has("acme")) {
    gh.createOrg("acme", { members: ["maya", "owen", "tess"] });
    gh.install("acme");
  }
  await gh.createRepo(`acme/${name}`, { files: o.files, private: !o.public });
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

/** acme/<name> with the demo's files (`files` adds or replaces some; null removes one). */
export async function seedDemoRepo(gh: OfflineGitHub, name: string, o: { files?: Record<string, string | null>; protect?: boolean; public?: boolean } = {}): Promise<void> {
  const files: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...demoRepoFiles, ...o.files })) if (v !== null) files[k] = v;
  await seedRepo(gh, name, { ...o, files });
}

/** Opens an issue as @maya (the demo's bug unless told otherwise), labels it for Bosun, and returns its number. */
export async function labelDemoIssue(gh: OfflineGitHub, repo: string, o: { title?: string; body?: string; label?: string } = {}): Promise<number> {
  const maya = gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo, title: o.title ?? demoIssue.title, body: o.body ?? demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo, issue_number: issue.data.number, labels: [o.label ?? "bosun"] });
  return issue.data.number;
}

/**
 * The unified diff, as `git diff` writes it, that turns each file of `before` named in `after`
 * into its content there (a file `before` lacks is created): the ```diff block the bundled agent
 * (agents/patch-agent.mjs) applies.
 */
export function unifiedDiff(before: Record<string, string>, after: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "bosun-diff-"));
  try {
    for (const [side, files] of [["a", before], ["b", after]] as const) {
      mkdirSync(join(dir, side));
      for (const path of Object.keys(after)) {
        const content = files[path];
        if (content === undefined) continue;
        mkdirSync(dirname(join(dir, side, path)), { recursive: true });
        writeFileSync(join(dir, side, path), content);
      }
    }
    // Folders a/ and b/ without git's own prefixes: the paths come out as a/<path> and b/<path>.
    const r = spawnSync("git", ["diff", "--no-index", "--no-prefix", "--no-color", "a", "b"], { cwd: dir, encoding: "utf8" });
    if (r.status !== 1 || !r.stdout) throw new Error(`git diff found no change (exit ${r.status}): ${r.stderr}`);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * acme/<name> seeded with `files`, and an issue by @maya, labelled for Bosun, whose body explains
 * the bug and gives the fix (`fixed`: the changed files' new content) as a ```diff block.
 * Returns the issue's number.
 */
export async function seedRepoWithFix(gh: OfflineGitHub, name: string, o: { files: Record<string, string>; fixed: Record<string, string>; title: string; text: string; protect?: boolean }): Promise<number> {
  await seedRepo(gh, name, { files: o.files, protect: o.protect ?? true });
  const body = `${o.text}\n\nThe fix:\n\n\`\`\`diff\n${unifiedDiff(o.files, o.fixed)}\`\`\`\n`;
  return labelDemoIssue(gh, name, { title: o.title, body });
}
