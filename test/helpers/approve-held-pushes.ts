// A second maintainer who approves every change Bosun holds for its push approval, as a team
// would after looking: it reads Bosun's progress comments on the offline GitHub and answers a held
// one with `/bosun approve`, once per run, as @owen (or @maya when @owen asked for the run).
// Tests of the hold itself name the repositories it must leave alone in `except`.
import type { OfflineGitHub } from "../offline-github/server.ts";

export interface HeldPushApprover {
  /** Repositories (`owner/name`, any case) whose held changes are left for the test to approve. */
  except: Set<string>;
  /** Runs approved so far. */
  approved: Set<string>;
  stop(): void;
}

const heldHeadline = "Change ready: waiting for someone else's `/bosun approve`";

export function approveHeldPushes(gh: OfflineGitHub, everyMs = 150): HeldPushApprover {
  const except = new Set<string>();
  const approved = new Set<string>();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      for (const repo of gh.world.repos.values()) {
        const full = `${repo.owner}/${repo.name}`;
        if ([...except].some((e) => e.toLowerCase() === full.toLowerCase())) continue;
        for (const c of repo.comments.values()) {
          if (!c.viaApp || !c.body.includes(heldHeadline)) continue;
          const run = /bosun:progress run=([0-9a-f-]+)/.exec(c.body)?.[1];
          if (!run || approved.has(run)) continue;
          approved.add(run);
          const requester = /\| Requested by \| @([\w-]+) \|/.exec(c.body)?.[1] ?? "";
          const approver = requester.toLowerCase() === "owen" ? "maya" : "owen";
          await gh.as(approver).rest.issues.createComment({ owner: repo.owner, repo: repo.name, issue_number: c.issueNumber, body: "/bosun approve" }).catch(() => approved.delete(run));
        }
      }
    })().finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return { except, approved, stop: () => clearInterval(timer) };
}
