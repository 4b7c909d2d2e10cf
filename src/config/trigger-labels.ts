// Which labels start Bosun in a repository: its `.github/bosun.yml` may rename them. Read when a
// label is added, with a token scoped to the one repository (contents and issues: read), revoked
// straight after. A file that cannot be read or parsed leaves the defaults in force, so the
// default label still starts a run that then says what is wrong with the file.
import type { Probot } from "probot";
import type { Logger } from "pino";
import { Redactor } from "../audit/redactor.ts";
import { readRawFile } from "../github/read-file.ts";
import { TokenBroker } from "../github/tokens.ts";
import { defaultTriggerLabels, parseRepoConfig, repoConfigPath } from "./repo-config.ts";

export interface TriggerLabels { pull_request: string; plan: string }

export async function triggerLabelsOf(o: {
  app: Probot; apiUrl: string; log: Logger; installationId: number; repoId: number; owner: string; repo: string; defaultBranch: string;
}): Promise<TriggerLabels> {
  const tokens = new TokenBroker({
    app: o.app, apiUrl: o.apiUrl, log: o.log, transcript: null, redactor: new Redactor(),
    target: { installationId: o.installationId, repoId: o.repoId, repoFullName: `${o.owner}/${o.repo}` },
  });
  try {
    const { octokit } = await tokens.get("fetch");
    const parsed = parseRepoConfig(await readRawFile(octokit, { owner: o.owner, repo: o.repo, path: repoConfigPath, ref: o.defaultBranch }));
    return parsed.ok ? parsed.config.trigger_labels : { ...defaultTriggerLabels };
  } catch (e) {
    o.log.warn({ err: e, repo: `${o.owner}/${o.repo}` }, "could not read the repository's trigger labels; the defaults hold for this label");
    return { ...defaultTriggerLabels };
  } finally {
    await tokens.revokeAll();
  }
}
