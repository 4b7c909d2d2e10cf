// Whether `bosun/independent-review` is satisfied: an APPROVED review of the head commit itself, by
// someone with write access who neither asked for any of the pull request's runs nor pushed to its
// branch (GitHub's "approval of the most recent reviewable push"). An approval of an earlier commit,
// a comment, or the approval of a requester or pusher never counts.
import { hasWriteAccess } from "../policy/who-may-start.ts";
import { samePerson, type Person } from "../runs/run.ts";

export interface ReviewDecision { satisfied: boolean; reason: string }

export interface ReviewSeen { user: string | null; userId: number | null; state: string; commitId: string | null }

export interface ReviewFacts {
  head: string;
  /** Everyone who asked for a run on this pull request: the labeller and each follow-up's reviewer. */
  requesters: Person[];
  /** People who pushed to the branch (Bosun's own pushes are not theirs). */
  pushers: Person[];
  /** The pull request's author's role, per login, read only for the candidates. */
  roleOf: (login: string) => Promise<string>;
}

const short = (sha: string): string => sha.slice(0, 7);

export async function decideIndependentReview(reviews: ReviewSeen[], o: ReviewFacts): Promise<ReviewDecision> {
  // A person's latest review decides their stance (a later comment does not undo an approval, as on GitHub).
  const latest = new Map<string, ReviewSeen>();
  for (const r of reviews) if (r.user && r.state !== "COMMENTED" && r.state !== "PENDING") latest.set(r.user, r);
  const asked = o.requesters.map((r) => `@${r.login}`).join(", ");
  const notes: string[] = [];
  for (const [login, r] of latest) {
    if (r.state !== "APPROVED") continue;
    if (login.endsWith("[bot]")) continue;
    if (r.commitId !== o.head) {
      notes.push(`@${login} approved ${r.commitId ? short(r.commitId) : "an earlier commit"}, but the head is now ${short(o.head)}: approvals count for the head commit only`);
      continue;
    }
    const who: Person = { login, id: r.userId };
    if (o.requesters.some((q) => samePerson(q, who))) {
      notes.push(`@${login} approved, but they asked for a run on this pull request, so their approval does not count`);
      continue;
    }
    if (o.pushers.some((p) => samePerson(p, who))) {
      notes.push(`@${login} approved, but they pushed to this branch, so their approval does not count`);
      continue;
    }
    const role = await o.roleOf(login);
    if (!hasWriteAccess(role)) {
      notes.push(`@${login} approved, but has ${role === "none" ? "no" : role} access to the repository`);
      continue;
    }
    return { satisfied: true, reason: `@${login} (${role}) approved ${short(o.head)}; they neither asked for this change nor pushed to its branch.` };
  }
  const ask = `Someone with write access other than ${asked}${o.pushers.length ? ` and ${o.pushers.map((p) => `@${p.login}`).join(", ")} (who pushed to the branch)` : ""} must approve ${short(o.head)}.`;
  return { satisfied: false, reason: [...notes.map((n) => `${n}.`), ask].join(" ") };
}
