// Reads the org policy from the org's `.github` repository with a token scoped to that one
// repository and `contents: read`, revoked straight after.
import { RequestError } from "@octokit/request-error";
import { GitHubOctokit } from "../github/octokit.ts";
import type { Probot } from "probot";
import type { Logger } from "pino";
import type { Redactor } from "../audit/redactor.ts";
import type { Transcript } from "../audit/transcript.ts";
import { readRawFile } from "../github/read-file.ts";
import { orgPolicyPath, orgPolicyRepo, parseOrgPolicy, type OrgPolicy } from "./org-policy.ts";
import type { ConfigProblem } from "./yaml-settings.ts";

/**
 * `policy` is null when the org has written none (no `.github` repository in the installation, or no
 * file there: GitHub's 404/422): Bosun's defaults hold. Any other failure to read it is not "no
 * policy": `unreadable` says what GitHub answered, and no work starts under a policy Bosun did not read.
 */
export type LoadedPolicy = { ok: true; policy: OrgPolicy | null; source: string } | { ok: false; problems: ConfigProblem[]; unreadable?: string };

export interface PolicyReader { app: Probot; apiUrl: string; log: Logger; installationId: number; owner: string; transcript: Transcript | null; redactor: Redactor }

export async function loadOrgPolicy(o: PolicyReader): Promise<LoadedPolicy> {
  const run = { installationId: o.installationId, owner: o.owner };
  const appOctokit = await o.app.auth();
  let token: string;
  try {
    const res = await appOctokit.rest.apps.createInstallationAccessToken({
      installation_id: run.installationId, repositories: [orgPolicyRepo], permissions: { contents: "read" },
    });
    token = res.data.token;
    o.redactor.add(token);
    await o.transcript?.append("token_minted", { purpose: "policy", repositories: [`${run.owner}/${orgPolicyRepo}`], permissions: { contents: "read" }, expires_at: res.data.expires_at });
  } catch (e) {
    // 422: the org has no .github repository, or the app is not installed on it.
    if (e instanceof RequestError && (e.status === 422 || e.status === 404)) {
      return { ok: true, policy: null, source: `defaults (Bosun cannot read ${run.owner}/${orgPolicyRepo})` };
    }
    throw e;
  }
  const octokit = new (GitHubOctokit())({ auth: { token }, baseUrl: o.apiUrl, log: o.log.child({ name: "octokit", purpose: "policy" }) });
  try {
    let text: string | null;
    try {
      text = await readRawFile(octokit, { owner: run.owner, repo: orgPolicyRepo, path: orgPolicyPath });
    } catch (e) {
      const answer = e instanceof RequestError ? `GitHub answered ${e.status}: ${e.message}` : e instanceof Error ? e.message : String(e);
      o.log.warn({ err: e }, "could not read the org's policy");
      return { ok: false, unreadable: answer, problems: [{ file: `${run.owner}/${orgPolicyRepo}: ${orgPolicyPath}`, line: null, key: null, message: `Bosun could not read it (${answer})` }] };
    }
    const parsed = parseOrgPolicy(text, `${run.owner}/${orgPolicyRepo}: ${orgPolicyPath}`);
    if (!parsed.ok) return parsed;
    return { ok: true, policy: text === null ? null : parsed.policy, source: text === null ? `defaults (${run.owner}/${orgPolicyRepo} has no ${orgPolicyPath})` : `${run.owner}/${orgPolicyRepo}: ${orgPolicyPath}` };
  } finally {
    await octokit.rest.apps.revokeInstallationAccessToken().catch(() => undefined);
    await o.transcript?.append("token_revoked", { purpose: "policy", repositories: [`${run.owner}/${orgPolicyRepo}`] });
  }
}
