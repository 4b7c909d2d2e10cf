// Drives one claimed run through its states until it ends or must wait. Each step persists its
// state change before the side effects of the next, and can be repeated after a crash.
import { rm } from "node:fs/promises";
import { RequestError } from "@octokit/request-error";
import { isTerminal, isWaitingForPerson } from "./run.ts";
import type { Run } from "./run.ts";
import { RunContext, type RunDeps } from "./run-context.ts";
import { isDockerConnectionError } from "../sandbox/sandbox.ts";
import { runDuration, runsFinished, stepDuration } from "../ops/metrics.ts";
import { RunDeferred, RunHandedOver, StepFailure } from "./step-failure.ts";
import { LeaseLostError } from "./store.ts";
import { authorize } from "./steps/authorize.ts";
import { prepare } from "./steps/prepare.ts";
import { runAgent } from "./steps/run-agent.ts";
import { verify } from "./steps/verify.ts";
import { publish, releaseApproved } from "./steps/publish.ts";

function describeError(e: unknown): string {
  if (e instanceof RequestError) return `GitHub answered ${e.status} to ${e.request.method} ${e.request.url.replace(/^https?:\/\/[^/]+/, "")}: ${e.message}`;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Bosun lost its Docker engine mid-run: the run waits for it (the policy's
 * `sandbox.docker_outage_wait_minutes`), saying so on the issue, and resumes when it is back;
 * past the wait it fails. Returns "waiting", or the failure to report.
 */
async function waitForDocker(ctx: RunContext, e: unknown): Promise<"waiting" | StepFailure> {
  const since = ctx.run.facts.dockerLostSince ?? new Date().toISOString();
  const limit = ctx.run.facts.policy?.rules.sandbox.docker_outage_wait_minutes ?? 0;
  const minutes = (Date.now() - Date.parse(since)) / 60_000;
  const detail = ctx.redactor.text(describeError(e));
  if (minutes >= limit) {
    return new StepFailure({
      outcome: limit === 0
        ? "Bosun lost contact with its Docker engine, so the run stopped (the org's policy does not wait for Docker: `sandbox.docker_outage_wait_minutes` is 0). Comment `/bosun retry` once Docker is back."
        : `Bosun's Docker engine has been unreachable for ${Math.round(minutes)} minutes, longer than the ${limit} the org's policy waits (\`sandbox.docker_outage_wait_minutes\`), so the run stopped. Comment \`/bosun retry\` once Docker is back.`,
      title: "Docker", detail,
    });
  }
  if (!ctx.run.facts.dockerLostSince) {
    const waiting = `Bosun lost contact with its Docker engine at ${since.slice(11, 16)} UTC; the run resumes when it is back, waiting up to ${limit} minute${limit === 1 ? "" : "s"} (\`sandbox.docker_outage_wait_minutes\`). An agent that was working is taken over, not started again.`;
    await ctx.transcript.append("error", { message: "lost contact with the Docker engine; the run waits for it", state: ctx.run.state, detail, wait_minutes: limit });
    await ctx.update({ facts: { dockerLostSince: since, waiting } });
    await ctx.reportProgressOrNote();
  }
  await ctx.deps.store.defer(ctx.run, dockerRetryMs);
  ctx.log.warn({ err: e }, "lost contact with Docker; the run waits for it");
  return "waiting";
}

/** How long a run waiting for Docker stays out of the queue before it looks again. */
const dockerRetryMs = 5_000;

/** The step each state runs, as the metrics name it. */
const stepNames: Partial<Record<string, string>> = { queued: "authorize", preparing: "prepare", running: "agent", verifying: "verify", awaiting_push_approval: "release", publishing: "publish" };

/** GitHub down or limiting Bosun (what Octokit's plugins retried and gave up on), rather than a refusal. */
function githubUnavailable(e: unknown): boolean {
  return e instanceof RequestError && (e.status >= 500 || e.status === 429 || (e.status === 403 && /rate limit/i.test(e.message)));
}

export async function executeRun(deps: RunDeps, claimed: Run): Promise<Run> {
  const ctx = new RunContext(deps, claimed);
  try {
    // Containers of this run can only be a previous owner's (a crash, a lost lease): they go, but
    // for an agent still at work, which the agent step takes over, with what its network left on this host.
    const working = claimed.state === "running" ? await deps.sandbox.findRunning(claimed.id, "agent").catch(() => null) : null;
    const stale = await deps.sandbox.removeContainers(claimed.id, { keep: working ? [working.id] : [] }).catch(() => 0);
    await deps.sandbox.releaseEarlierPhases(ctx.dir, working ? { role: "agent", epoch: working.epoch } : null);
    if (stale > 0) {
      ctx.log.warn({ containers: stale }, "removed containers a previous owner of this run left behind");
      await ctx.transcript.append("error", { message: `removed ${stale} container(s) left by an earlier attempt`, attempt: claimed.attempt });
    }
    if (claimed.facts.dockerLostSince) {
      await deps.sandbox.ping();
      await ctx.transcript.append("error", { message: "Docker is reachable again; the run resumes", lost_since: claimed.facts.dockerLostSince });
      await ctx.update({ facts: { dockerLostSince: null, waiting: null } });
      await ctx.reportProgressOrNote();
    }
    while (!isTerminal(ctx.run.state) && !isWaitingForPerson(ctx.run)) {
      const before = ctx.run.state;
      const endStep = stepDuration.startTimer({ step: stepNames[before] ?? before });
      switch (ctx.run.state) {
        case "queued": await authorize(ctx); break;
        case "preparing": await prepare(ctx); break;
        case "running": await runAgent(ctx); break;
        case "verifying": await verify(ctx); break;
        case "awaiting_push_approval": await releaseApproved(ctx); break;
        case "publishing": await publish(ctx); break;
        default: throw new Error(`[bosun/runs] no step for state ${ctx.run.state}`);
      }
      endStep();
      if (ctx.run.state === before) throw new Error(`[bosun/runs] step for ${before} did not move the run`);
    }
  } catch (caught) {
    let e = caught;
    if (e instanceof RunHandedOver) {
      await deps.store.handOver(ctx.run).catch((err: unknown) => ctx.log.warn({ err }, "could not hand the run over; its lease lapses instead"));
      ctx.log.info("handed the run over: its agent keeps working for the next owner");
      return ctx.run;
    }
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
    if (!(e instanceof StepFailure) && (isDockerConnectionError(e) || !(await deps.sandbox.ping().then(() => true, () => false)))) {
      const waited = await waitForDocker(ctx, e);
      if (waited === "waiting") return ctx.run;
      e = waited;
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
      runsFinished.inc({ outcome: ctx.run.state });
      runDuration.observe({ outcome: ctx.run.state }, (Date.now() - ctx.run.createdAt.getTime()) / 1000);
      await deps.sandbox.cleanup(ctx.run.id).catch((e: unknown) => ctx.log.warn({ err: e }, "could not remove the run's containers and volumes"));
      await rm(ctx.dir, { recursive: true, force: true });
    }
  }
  return ctx.run;
}
