// The Octokit class of every GitHub client Bosun makes (Probot's, which bundles Octokit's retry
// and throttling plugins), with the throttling's spacing of writes taken from the environment.
// GitHub asks integrations to leave a second between writes, and Octokit leaves three seconds
// between writes that notify people (comments, pull requests); both hold per process, across all
// runs and tokens, which bounds a replica's throughput. The offline GitHub has no secondary
// limits, so tests shorten the spacing; retries after a secondary rate limit work the same.
import Bottleneck from "bottleneck";
import { ProbotOctokit } from "probot";
import { githubRateRemaining, githubRequests } from "../ops/metrics.ts";

export interface WriteSpacing { writeMs: number; notifyMs: number }

type Options = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

/**
 * GitHub's limits are waited out (the plugin waits `retry-after`) and the call made again, up to
 * three times; then the step fails with GitHub's answer. Probot's own app client would not retry
 * a secondary limit at all.
 */
function retryAFewTimes(what: string) {
  return (retryAfter: number, options: { method?: string; url?: string; request?: { retryCount?: number } }, octokit: { log: { warn(m: string): void } }): boolean => {
    const attempt = options.request?.retryCount ?? 0;
    octokit.log.warn(`GitHub's ${what} on ${options.method ?? ""} ${options.url ?? ""}: ${attempt < 3 ? `retrying in ${retryAfter} s` : "giving up after 3 retries"}`);
    return attempt < 3;
  };
}

/** Every request to GitHub counted by method and status, and the rate limit GitHub reports, for /metrics. */
function countRequests(octokit: Parameters<Parameters<typeof ProbotOctokit.plugin>[0]>[0]): void {
  octokit.hook.after("request", (res, options) => {
    githubRequests.inc({ method: options.method, status: String(res.status) });
    const remaining = res.headers["x-ratelimit-remaining"];
    if (remaining !== undefined) githubRateRemaining.set({ resource: String(res.headers["x-ratelimit-resource"] ?? "core") }, Number(remaining));
  });
  octokit.hook.error("request", (error, options) => {
    githubRequests.inc({ method: options.method, status: String((error as { status?: number }).status ?? 0) });
    throw error;
  });
}

let current: { spacing: WriteSpacing; Octokit: typeof ProbotOctokit } | null = null;

/** Sets this process's spacing (once, at start; a later call with other figures replaces it). */
export function configureGitHubClients(spacing: WriteSpacing): typeof ProbotOctokit {
  if (current && current.spacing.writeMs === spacing.writeMs && current.spacing.notifyMs === spacing.notifyMs) return current.Octokit;
  const write = new Bottleneck.Group({ id: "bosun-write", maxConcurrent: 1, minTime: spacing.writeMs });
  const notifications = new Bottleneck.Group({ id: "bosun-notifications", maxConcurrent: 1, minTime: spacing.notifyMs });
  // A function, so it also applies under Probot's own defaults (the app-level client that mints
  // tokens), whose throttle options would otherwise replace these whole.
  const Octokit = ProbotOctokit.plugin(countRequests).defaults((options: Options = {}) => {
    // Octokit types `throttle` as `any`; it is the throttling plugin's options object.
    const throttle = (options.throttle ?? {}) as Record<string, unknown>;
    return { ...options, throttle: { ...throttle, write, notifications, onSecondaryRateLimit: retryAFewTimes("secondary rate limit"), onRateLimit: retryAFewTimes("rate limit") } };
  });
  current = { spacing, Octokit };
  return Octokit;
}

/** The class every client is made from: GitHub's recommended spacing until configured. */
export function GitHubOctokit(): typeof ProbotOctokit {
  return current?.Octokit ?? configureGitHubClients({ writeMs: 1000, notifyMs: 3000 });
}
