// Whether the agent's verified commit may be pushed yet. A push is where agent code meets the
// org's CI: a push from an App's token starts `on: push` workflows defined in the pushed commit
// itself, and a same-repository pull request runs `pull_request` workflows on its head with the
// repository's secrets and a writable GITHUB_TOKEN, drafts included (GitHub docs: "Events that
// trigger workflows"; "Using secrets in GitHub Actions": only pull requests from forks go without
// secrets). So by default nothing is pushed until someone with write access who did not ask for
// the run approves the exact commit Bosun shows them; an org may choose to push first
// (`push_before_approval`), never for protected paths.
import { pushApproved, requesterOf, samePerson, type Person, type Run } from "../runs/run.ts";

/** At most ten paths by name: a change to thousands must not make a comment GitHub refuses. */
export function listPaths(paths: string[]): string {
  const named = paths.slice(0, 10).map((p) => `\`${p}\``).join(", ");
  return paths.length > 10 ? `${named} and ${paths.length - 10} more` : named;
}

export interface PushApproval {
  needed: boolean;
  /** Approved for exactly the verified commit. */
  approved: boolean;
  reason: string;
}

export function pushApprovalNeeded(run: Run): PushApproval {
  const f = run.facts;
  const protectedPaths = f.protectedChanges ?? [];
  const pushFirst = f.policy?.rules.push_before_approval ?? false;
  const approved = pushApproved(f);
  if (protectedPaths.length) {
    return { needed: true, approved, reason: `it changes paths the org's policy protects (${listPaths(protectedPaths)}), which are never pushed before approval` };
  }
  if (!pushFirst) {
    return { needed: true, approved, reason: "a push runs the repository's workflows on the agent's code with the repository's secrets, so nothing the agent wrote is pushed before someone other than the requester has looked at it" };
  }
  return { needed: false, approved, reason: "the org's policy pushes the agent's change before anyone approves it (`push_before_approval`)" };
}

/** Why `who` may not approve the push of `run`'s change; null when they may (write access is checked by the caller). */
export function pushApprovalRefusal(run: Run, who: Person): string | null {
  if (samePerson(requesterOf(run), who)) {
    return `you asked for this run, and the person who asked for a change cannot approve it on their own. Someone else with write access must comment \`/bosun approve\`.`;
  }
  return null;
}
