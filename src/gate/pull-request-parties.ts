// Who stands where on one of Bosun's pull requests: everyone who asked for a run on it (the
// labeller, each follow-up's reviewer or commenter) and everyone who pushed to its branch. None of
// them can be its independent reviewer.
import { requesterOf, samePerson, type Person, type Run } from "../runs/run.ts";
import type { RunStore } from "../runs/store.ts";

export interface PullRequestParties {
  /** The run behind the pull request's latest Bosun commit (the latest published run). */
  published: Run | null;
  requesters: Person[];
  pushers: Person[];
  /** Commits Bosun verified for this pull request: a push of one of them is Bosun's own. */
  bosunCommits: string[];
}

const unique = (xs: Person[]): Person[] => xs.filter((x, i) => xs.findIndex((y) => samePerson(x, y)) === i);

export async function pullRequestParties(store: RunStore, o: { owner: string; repo: string; pullNumber: number }): Promise<PullRequestParties> {
  const runs = (await store.list({ owner: o.owner, repo: o.repo })).filter((r) => r.prNumber === o.pullNumber || r.facts.iteration?.pullNumber === o.pullNumber);
  const published = [...runs].reverse().find((r) => r.prNumber === o.pullNumber && r.headSha) ?? null;
  return {
    published,
    requesters: unique(runs.filter((r) => r.mode === "pull_request").map(requesterOf)),
    pushers: unique(runs.flatMap((r) => r.facts.pushers ?? [])),
    bosunCommits: runs.flatMap((r) => (r.facts.commitSha ? [r.facts.commitSha] : [])),
  };
}
