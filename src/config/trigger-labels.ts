// Which labels start Bosun in a repository: its `.github/bosun.yml` may rename them. Read when a
// label is added (and kept a short while, see TriggerLabelCache), with a token scoped to the one
// repository (contents and issues: read), revoked straight after. A file that cannot be read or parsed leaves the defaults in force, so the
// default label still starts a run that then says what is wrong with the file.
import type { Probot } from "probot";
import type { Logger } from "pino";
import { Redactor } from "../audit/redactor.ts";
import { readRawFile } from "../github/read-file.ts";
import { TokenBroker } from "../github/tokens.ts";
import { defaultTriggerLabels, parseRepoConfig, repoConfigPath } from "./repo-config.ts";

export interface TriggerLabels { pull_request: string; plan: string }

export type ReadOptions = {
  app: Probot; apiUrl: string; log: Logger; installationId: number; repoId: number; owner: string; repo: string; defaultBranch: string;
};

/** Reads the repository's trigger labels; throws when the file cannot be read (a broken file gives the defaults). */
async function readTriggerLabels(o: ReadOptions): Promise<TriggerLabels> {
  const tokens = new TokenBroker({
    app: o.app, apiUrl: o.apiUrl, log: o.log, transcript: null, redactor: new Redactor(),
    target: { installationId: o.installationId, repoId: o.repoId, repoFullName: `${o.owner}/${o.repo}` },
  });
  try {
    const { octokit } = await tokens.get("fetch");
    const parsed = parseRepoConfig(await readRawFile(octokit, { owner: o.owner, repo: o.repo, path: repoConfigPath, ref: o.defaultBranch }));
    return parsed.ok ? parsed.config.trigger_labels : { ...defaultTriggerLabels };
  } finally {
    await tokens.revokeAll();
  }
}

export type TriggerMode = "pull_request" | "plan";

export interface TriggerLabelCacheOptions {
  keepMs?: number;
  now?: () => number;
  /** How the file is read (tests give their own). */
  read?: (o: ReadOptions) => Promise<TriggerLabels>;
}

function modeFor(label: string, t: TriggerLabels): TriggerMode | null {
  return label === t.pull_request ? "pull_request" : label === t.plan ? "plan" : null;
}

/**
 * Which mode a label starts, answered from what the repository's file said within the last
 * `keepMs`, so that a burst of labels (a maintainer triaging, a script) costs one read of the file
 * and the webhook is answered at once; a change to the file's trigger labels counts within `keepMs`.
 * Reads of one repository at the same time share one request. A failed read answers with the last
 * answer the file gave, or the defaults, and is itself kept for `keepMs`, so that an unreachable
 * GitHub is not asked again for every delivery.
 */
export class TriggerLabelCache {
  readonly #kept = new Map<number, { labels: TriggerLabels; at: number }>();
  readonly #reading = new Map<number, Promise<TriggerLabels>>();
  readonly #o: Required<TriggerLabelCacheOptions>;

  constructor(o: TriggerLabelCacheOptions = {}) {
    this.#o = { keepMs: o.keepMs ?? 5_000, now: o.now ?? Date.now, read: o.read ?? readTriggerLabels };
  }

  async modeOf(label: string, o: ReadOptions): Promise<TriggerMode | null> {
    const kept = this.#kept.get(o.repoId);
    if (kept && this.#o.now() - kept.at < this.#o.keepMs) return modeFor(label, kept.labels);
    return modeFor(label, await this.#read(o));
  }

  #read(o: ReadOptions): Promise<TriggerLabels> {
    const pending = this.#reading.get(o.repoId);
    if (pending) return pending;
    const p = this.#o.read(o).catch((e: unknown) => {
      const last = this.#kept.get(o.repoId)?.labels;
      o.log.warn({ err: e, repo: `${o.owner}/${o.repo}` }, last
        ? "could not read the repository's trigger labels; the last ones read hold for now"
        : "could not read the repository's trigger labels; the defaults hold for now");
      return last ?? { ...defaultTriggerLabels };
    }).then((labels) => {
      this.#kept.set(o.repoId, { labels, at: this.#o.now() });
      return labels;
    }).finally(() => this.#reading.delete(o.repoId));
    this.#reading.set(o.repoId, p);
    return p;
  }
}
