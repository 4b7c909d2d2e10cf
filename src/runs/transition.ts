// The only place that decides whether a run may move from one state to another.
import type { RunState } from "./run.ts";

function assertNever(x: never): never {
  throw new Error(`[bosun/runs] unknown state ${String(x)}`);
}

/** States a run may move to from `from`. Any non-terminal state may fail or be cancelled. */
export function allowedNext(from: RunState): readonly RunState[] {
  const stop: RunState[] = ["failed", "cancelled"];
  switch (from) {
    case "queued":
      return ["awaiting_approval", "preparing", "refused", ...stop];
    // `/bosun approve` moves it on; the worker takes it from there.
    case "awaiting_approval":
      return ["preparing", "refused", ...stop];
    case "preparing":
      return ["running", ...stop];
    case "running":
      return ["verifying", ...stop];
    case "verifying":
      // A plan, or an agent that changed nothing, ends here. A change waits for a person's
      // approval before anything is pushed, unless the org's policy says otherwise.
      return ["awaiting_push_approval", "publishing", "succeeded", ...stop];
    // `/bosun approve` by someone other than the requester moves it on.
    case "awaiting_push_approval":
      return ["publishing", ...stop];
    case "publishing":
      return ["succeeded", ...stop];
    case "succeeded":
    case "failed":
    case "cancelled":
    case "refused":
      return [];
    default:
      return assertNever(from);
  }
}

export function assertTransition(from: RunState, to: RunState): void {
  if (!allowedNext(from).includes(to)) throw new Error(`[bosun/runs] illegal transition ${from} → ${to}`);
}
