// The Probot app: webhook handlers only record what happened and return (GitHub gives a
// delivery ten seconds); the worker does the work.
import type { Probot } from "probot";
import { webhookDeliveries, webhookHandling } from "./ops/metrics.ts";
import type { Pool } from "pg";
import type { Env } from "./config/env.ts";
import { TriggerLabelCache } from "./config/trigger-labels.ts";
import type { CommandStore } from "./runs/command-store.ts";
import { parseCommand } from "./runs/commands.ts";
import type { RunStore } from "./runs/store.ts";
import { followUpOf } from "./runs/run.ts";

export interface AppDeps {
  store: RunStore;
  commands: CommandStore;
  pool: Pool;
  env: Env;
  /** Called after a run is recorded, so the local worker picks it up without waiting for a poll. */
  onRunQueued?: () => void;
}

/** A handler whose time (what GitHub waits for before the delivery is acknowledged) goes to /metrics. */
function timed<C>(event: string, handler: (context: C) => Promise<void>): (context: C) => Promise<void> {
  return async (context) => {
    const end = webhookHandling.startTimer({ event });
    try {
      await handler(context);
    } finally {
      end();
    }
  };
}

export function bosunApp(deps: AppDeps) {
  return (app: Probot): void => {
    const triggerLabels = new TriggerLabelCache();
    // Every verified delivery is counted, whatever Bosun does with it.
    app.onAny((context) => {
      webhookDeliveries.inc({ event: context.name });
    });
    app.on("issues.labeled", timed("issues", async (context) => {
      const label = context.payload.label?.name;
      const { repository, issue, sender, installation } = context.payload;
      if (!label || !installation) return;
      if ("pull_request" in issue && issue.pull_request) return;
      const mode = await triggerLabels.modeOf(label, {
        app, apiUrl: deps.env.GITHUB_API_URL, log: context.log, installationId: installation.id, repoId: repository.id,
        owner: repository.owner.login, repo: repository.name, defaultBranch: repository.default_branch,
      });
      if (!mode) return;
      const result = await deps.store.createRunFromDelivery({ id: context.id, event: context.name, action: context.payload.action }, {
        installationId: installation.id,
        repoId: repository.id,
        owner: repository.owner.login,
        repo: repository.name,
        issueNumber: issue.number,
        mode,
        requestedBy: sender.login,
        facts: { requesterId: sender.id, requesterType: sender.type, labelledAt: new Date().toISOString(), deliveryId: context.id },
      });
      if (result.duplicate) {
        context.log.info({ delivery: context.id }, "redelivered webhook ignored");
        return;
      }
      const { run, created } = result;
      context.log.info({ run: run.id, created }, created ? "run queued" : "issue already has an active run");
      if (created) deps.onRunQueued?.();
    }));

    app.on("issue_comment.created", timed("issue_comment", async (context) => {
      const { comment, issue, repository, installation } = context.payload;
      const parsed = parseCommand(comment.body);
      // Bosun's own comments and other bots' are never commands.
      const user = comment.user;
      if (!parsed || !installation || !user || user.type === "Bot") return;
      const recorded = await deps.commands.record({ id: context.id, event: context.name, action: context.payload.action }, {
        installationId: installation.id, repoId: repository.id, owner: repository.owner.login, repo: repository.name,
        issueNumber: issue.number, commentId: comment.id, author: user.login, authorId: user.id, authorType: user.type ?? "User",
        authorAssociation: comment.author_association, verb: parsed.verb, args: parsed.args,
      });
      context.log.info({ command: parsed.verb, recorded }, recorded ? "command recorded" : "redelivered command ignored");
      if (recorded) deps.onRunQueued?.();
    }));

    // Reviews and pushes on Bosun's pull requests are recorded for the merge gate (src/gate/), which
    // the command loop applies: a dismissed approval, an approval of an older commit, a new push,
    // each settles both checks again.
    app.on(["pull_request_review.submitted", "pull_request_review.dismissed"], timed("pull_request_review", async (context) => {
      const { repository, pull_request: pr, installation, review } = context.payload;
      if (!installation || !pr.head.ref.startsWith("bosun/")) return;
      const runs = (await deps.store.list({ owner: repository.owner.login, repo: repository.name })).filter((r) => r.prNumber === pr.number);
      const run = runs[runs.length - 1];
      if (!run) return;
      const recorded = await deps.commands.record({ id: `${context.id}:gate`, event: context.name, action: context.payload.action }, {
        installationId: installation.id, repoId: repository.id, owner: repository.owner.login, repo: repository.name,
        issueNumber: pr.number, commentId: 0, author: review.user?.login ?? "ghost", authorId: review.user?.id ?? null, authorType: review.user?.type ?? "User",
        verb: "gate:review", args: JSON.stringify({ review: { id: review.id, user: review.user?.login ?? null, userId: review.user?.id ?? null, state: review.state.toUpperCase(), commit: review.commit_id ?? null } }),
      });
      if (recorded) deps.onRunQueued?.();
      // Changes requested on Bosun's pull request: a follow-up run on its branch (the worker checks
      // that the reviewer may start work, as for a label).
      if (context.payload.action !== "submitted" || review.state !== "changes_requested" || !review.user || review.user.type === "Bot") return;
      const result = await deps.store.createRunFromDelivery({ id: context.id, event: context.name, action: context.payload.action }, {
        installationId: installation.id, repoId: repository.id, owner: repository.owner.login, repo: repository.name,
        issueNumber: run.issueNumber, mode: "pull_request", requestedBy: review.user.login,
        facts: {
          requesterId: review.user.id, requesterType: review.user.type, labelledAt: new Date().toISOString(), deliveryId: context.id,
          iteration: followUpOf(run, pr, review.user.login, { id: review.id, body: review.body ?? null }, null),
        },
      });
      if (result.duplicate) return;
      context.log.info({ run: result.run.id, created: result.created }, result.created ? "follow-up run queued for a review" : "the issue already has an active run");
      if (result.created) deps.onRunQueued?.();
    }));

    // Someone (or Bosun) pushed to a pull request's branch: approvals of the old head stop counting.
    app.on("pull_request.synchronize", timed("pull_request", async (context) => {
      const { repository, pull_request: pr, installation, sender } = context.payload;
      if (!installation || !pr.head.ref.startsWith("bosun/")) return;
      const known = (await deps.store.list({ owner: repository.owner.login, repo: repository.name })).some((r) => r.prNumber === pr.number);
      if (!known) return;
      const recorded = await deps.commands.record({ id: `${context.id}:gate`, event: context.name, action: context.payload.action }, {
        installationId: installation.id, repoId: repository.id, owner: repository.owner.login, repo: repository.name,
        issueNumber: pr.number, commentId: 0, author: sender.login, authorId: sender.id, authorType: sender.type,
        verb: "gate:push", args: JSON.stringify({ push: { by: sender.login, byId: sender.id, byType: sender.type, before: context.payload.before, after: context.payload.after, branch: pr.head.ref } }),
      });
      if (recorded) deps.onRunQueued?.();
    }));
  };
}

