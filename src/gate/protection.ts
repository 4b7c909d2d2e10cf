// The gate between the agent and the default branch: before a pull request is marked ready,
// Bosun reads the base branch's protection and names every setting that is missing.
import { RequestError } from "@octokit/request-error";
import { checkNames } from "../github/check-runs.ts";
import type { GitHubClient } from "../github/tokens.ts";

export interface GateResult {
  ok: boolean;
  /** Settings to turn on, in words a repository admin can follow. */
  missing: string[];
}

export async function checkProtectionGate(octokit: GitHubClient, o: { owner: string; repo: string; branch: string; appId: number }): Promise<GateResult> {
  let protection: Awaited<ReturnType<GitHubClient["rest"]["repos"]["getBranchProtection"]>>["data"];
  try {
    protection = (await octokit.rest.repos.getBranchProtection({ owner: o.owner, repo: o.repo, branch: o.branch })).data;
  } catch (e) {
    if (e instanceof RequestError && e.status === 404) {
      return {
        ok: false,
        missing: [
          `Protect the branch \`${o.branch}\` (Settings → Branches → Add branch protection rule)`,
          `Require status checks to pass: \`${checkNames.tests}\` and \`${checkNames.independentReview}\``,
          "Require a pull request before merging, with at least 1 approving review",
          "Dismiss stale pull request approvals when new commits are pushed",
          "Require approval of the most recent reviewable push",
          "Require review from Code Owners",
        ],
      };
    }
    throw e;
  }
  const missing: string[] = [];
  const rsc = protection.required_status_checks;
  const contexts = new Set([...(rsc?.contexts ?? []), ...(rsc?.checks ?? []).map((c) => c.context)]);
  for (const name of [checkNames.tests, checkNames.independentReview]) {
    if (!contexts.has(name)) {
      missing.push(`Require the status check \`${name}\` to pass before merging`);
      continue;
    }
    // Anyone with write access can post a commit status of any name; only a check pinned to
    // Bosun's app cannot be satisfied by the person who asked for the run.
    const source = (rsc?.checks ?? []).find((c) => c.context === name)?.app_id;
    if (source !== o.appId) missing.push(`Require \`${name}\` from the Bosun app (in the rule's status checks, choose Bosun as the expected source)`);
  }
  const reviews = protection.required_pull_request_reviews;
  if (!reviews || (reviews.required_approving_review_count ?? 0) < 1) missing.push("Require a pull request before merging, with at least 1 approving review");
  // An approval of an earlier commit must not carry over to what was pushed after it, and whoever
  // pushed last (a person on Bosun's branch) must not approve their own push: GitHub's
  // `dismiss_stale_reviews` and `require_last_push_approval`.
  if (!reviews?.dismiss_stale_reviews) missing.push("Dismiss stale pull request approvals when new commits are pushed");
  if (!reviews?.require_last_push_approval) missing.push("Require approval of the most recent reviewable push");
  if (!reviews?.require_code_owner_reviews) missing.push("Require review from Code Owners");
  return { ok: missing.length === 0, missing };
}
