// Drives one claimed run through its states until it ends or must wait. Each step persists its
// state change before the side effects of the next, and can be repeated after a crash.
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { RequestError } from "@octokit/request-error";
import { isTerminal } from "./run.ts";
import type { Run } from "./run.ts";
import { RunContext, type RunDeps } from "./run-context.ts";
import { RunDeferred, StepFailure } from "./step-failure.ts";
import { LeaseLostError } from "./store.ts";
import { authorize } from "./steps/authorize.ts";
import { prepare } from "./steps/prepare.ts";
import { runAgent } from "./steps/run-agent.ts";
import { verify } from "./steps/verify.ts";
import { publish } from "./steps/publish.ts";

function describeError(e: unknown): string {
  if (e instanceof RequestError) return `GitHub answered ${e.status} to ${e.request.method} ${e.request.url.replace(/^https?:\/\/[^/]+/, "")}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/** GitHub down or limiting Bosun (what Octokit's plugins retried and gave up on), rather than a refusal. */
function githubUnavailable(e: unknown): boolean {
  return e instanceof RequestError && (e.status >= 500 || e.status === 429 || (e.status === 403 && /rate limit/i.test(e.message)));
}

export async function executeRun(deps: RunDeps, claimed: Run): Promise<Run> {
  const ctx = new RunContext(deps, claimed);
  try {
    // Containers of this run can only be a previous owner's (a crash, a lost lease): they go, but
    // for an agent still at work, which the agent step takes over, with its egress folder.
    const working = claimed.state === "running" ? await deps.sandbox.findRunning(claimed.id, "agent").catch(() => null) : null;
    const stale = await deps.sandbox.removeContainers(claimed.id, { keep: working ? [working.id] : [] }).catch(() => 0);
    const keepDir = working ? `egress-agent-${working.epoch}` : null;
    for (const f of await readdir(ctx.dir).catch(() => [])) if (/^egress-/.test(f) && f !== keepDir) await rm(join(ctx.dir, f), { recursive: true, force: true });
    if (stale > 0) {
      ctx.log.warn({ containers: stale }, "removed containers a previous owner of this run left behind");
      await ctx.transcript.append("error", { message: `removed ${stale} container(s) left by an earlier attempt`, attempt: claimed.attempt });
    }
    while (!isTerminal(ctx.run.state) && ctx.run.state !== "awaiting_approval") {
      const before = ctx.run.state;
      switch (ctx.run.state) {
        case "queued": await authorize(ctx); break;
        case "preparing": await prepare(ctx); break;
        case "running": await runAgent(ctx); break;
        case "verifying": await verify(ctx); break;
        case "publishing": await publish(ctx); break;
        default: throw new Error(`[bosun/runs] no step for state ${ctx.run.state}`);
      }
      if (ctx.run.state === before) throw new Error(`[bosun/runs] step for ${before} did not move the run`);
    }
  } catch (e) {
    if (e instanceof RunDeferred) {
      ctx.log.info({ reason: e.message }, "run deferred; it waits in the queue");
      return ctx.run;
    }
    if (e instanceof LeaseLostError) {
      // Cancelled by a command, or taken over after a lapsed lease: stop here.
      const now = await deps.store.get(ctx.run.id);
      if (now && isTerminal(now.state)) ctx.run = now;
      ctx.log.warn({ state: now?.state }, "lost the lease; this worker stops working on the run");
      return ctx.run;
    }
    const failure = e instanceof StepFailure
      ? e
      : githubUnavailable(e)
        ? new StepFailure({ outcome: "GitHub kept failing after Bosun retried, so the run stopped. Comment `/bosun retry` to start it again.", title: "GitHub's answer", detail: ctx.redactor.text(describeError(e)) })
        : new StepFailure({ outcome: "Bosun hit an error it could not recover from. An operator can find the details in Bosun's log.", title: "Error", detail: ctx.redactor.text(describeError(e)) });
    if (!(e instanceof StepFailure)) ctx.log.error({ err: e, state: ctx.run.state }, "run failed with an error");
    await ctx.transcript.append("error", { state: ctx.run.state, message: failure.outcome, detail: failure.detail }).catch(() => undefined);
    try {
      await ctx.update({ facts: { failure: { title: failure.title, detail: failure.detail.slice(-6000) } }, lastError: ctx.redactor.text(describeError(e)) });
      await ctx.moveTo("failed", { outcome: failure.outcome });
    } catch (reportError) {
      if (reportError instanceof LeaseLostError) {
        const now = await deps.store.get(ctx.run.id);
        if (now && isTerminal(now.state)) ctx.run = now;
      } else ctx.log.error({ err: reportError }, "could not record the failure on the issue");
    }
  } finally {
    await ctx.tokens.revokeAll();
    if (isTerminal(ctx.run.state)) {
      await deps.sandbox.cleanup(ctx.run.id).catch((e: unknown) => ctx.log.warn({ err: e }, "could not remove the run's containers and volumes"));
      await rm(ctx.dir, { recursive: true, force: true });
    }
  }
  return ctx.run;
}
