// `npm run demo`: Bosun end to end on this machine, against the bundled offline GitHub.
// It seeds a repository with a failing test and an issue describing the bug, labels the issue
// as a maintainer, and shows what a user would see while Bosun's bundled agent fixes it.
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs, promisify } from "node:util";
import pg from "pg";
import { pino } from "pino";
import { readTranscript, toJsonl } from "../src/audit/transcript.ts";
import { readEnv } from "../src/config/env.ts";
import { isTerminal } from "../src/runs/run.ts";
import { startBosun } from "../src/start-bosun.ts";
import { OfflineGitHub } from "../test/offline-github/server.ts";
import { demoIssue, demoRepoFiles } from "../test/fixtures/demo-repo.ts";
import { agentKinds } from "../src/config/org-policy.ts";
import { demoScripts } from "../test/model-server/demo-scripts.ts";
import { ScriptedModelServer } from "../test/model-server/server.ts";
import { modelOrgPolicy } from "../test/helpers/model-agent-world.ts";

const usage = `Usage: npm run demo -- [options]
  --json                 end with one JSON line: run id, state, pull request, progress comment, transcript path
  --agent "<command>"    run this command as the agent (same image, same contract) instead of the bundled one
  --agent builtin        run Bosun's builtin agent (or codex, claude) against the scripted model server (or the model below)
  --model-url URL        the model's API root for that agent (its key in BOSUN_SECRET_MODEL_KEY)
  --model NAME           the model to ask for at --model-url
  --repo DIR             seed the repository from a local git repository (its HEAD becomes main)
  --issue-title TEXT     the issue's title          (default: the bundled demo's bug)
  --issue-body TEXT      the issue's body
  --org-policy FILE      seed the org's .github repository with this .github/bosun.yml
  --repo-config FILE     seed the repository's .github/bosun.yml with this file
  --label NAME           the label the maintainer adds (default bosun; bosun:plan for a read-only plan)
  --timeout SECONDS      give up waiting after this long (default 600)
  --stay                 keep Bosun and the offline GitHub running afterwards, to browse the dashboard (Ctrl-C stops)`;

const { values: opts } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    agent: { type: "string" },
    "model-url": { type: "string" },
    model: { type: "string" },
    repo: { type: "string" },
    "issue-title": { type: "string" },
    "issue-body": { type: "string" },
    "org-policy": { type: "string" },
    "repo-config": { type: "string" },
    label: { type: "string", default: "bosun" },
    timeout: { type: "string", default: "600" },
    stay: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (opts.help) {
  console.log(usage);
  process.exit(0);
}

const run = promisify(execFile);
const say = (line = ""): void => {
  if (!opts.json) console.log(line);
  else console.error(line);
};

async function freshDatabase(adminUrl: string): Promise<string> {
  const name = "bosun_demo";
  const admin = new pg.Client({ connectionString: adminUrl });
  try {
    await admin.connect();
  } catch (e) {
    throw new Error(`Postgres is not reachable at ${adminUrl.replace(/:[^:@/]+@/, ":***@")} (${(e as Error).message}). Run \`npm run setup\` or set DATABASE_URL.`, { cause: e });
  }
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `--agent builtin`: Bosun's own agent, with a model the org's policy names. */
const modelAgent = opts.agent !== undefined && (agentKinds as readonly string[]).includes(opts.agent) && opts.agent !== "default" && opts.agent !== "command" ? opts.agent : null;

/**
 * The model a model-driven agent talks to: the user's endpoint (`--model-url`, key in
 * BOSUN_SECRET_MODEL_KEY), or the scripted model server replaying the demo's fix, pinned to loopback.
 */
async function demoModel(kind: string): Promise<{ orgPolicy: string; close: () => Promise<void>; describe: string }> {
  if (opts["model-url"]) {
    const url = new URL(opts["model-url"]);
    if (!opts.model) throw new Error("--model-url needs --model NAME (the model to ask for)");
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    const keyed = Boolean(process.env["BOSUN_SECRET_MODEL_KEY"]);
    return {
      describe: `the model ${opts.model} at ${url.origin}${keyed ? " (key from BOSUN_SECRET_MODEL_KEY)" : " (no key: BOSUN_SECRET_MODEL_KEY is unset)"}`,
      close: () => Promise.resolve(),
      orgPolicy: [
        "model:", `  base_url: ${JSON.stringify(url.toString().replace(/\/$/, ""))}`, `  name: ${JSON.stringify(opts.model)}`, ...(keyed ? ["  api_key_secret: MODEL_KEY"] : []),
        "sandbox:", "  phases:", "    agent:", "      network: allowlist", `      hosts: ["${url.hostname}:${port}"]`, ...(keyed ? ["      secrets: [MODEL_KEY]"] : []), "",
      ].join("\n"),
    };
  }
  const script = demoScripts[kind];
  if (!script) throw new Error(`the scripted model has no demo for the ${kind} agent; give --model-url and --model`);
  const key = "sk-demo-scripted-model";
  const model = await ScriptedModelServer.start({ script: script(), apiKey: key });
  process.env["BOSUN_SECRET_MODEL_KEY"] = key;
  const port = new URL(model.url).port;
  return {
    describe: `the scripted model server on ${model.url} (as models.bosun.test, pinned to loopback)`,
    close: () => model.close(),
    orgPolicy: modelOrgPolicy(port),
  };
}

async function seedRepository(gh: OfflineGitHub): Promise<void> {
  const repoConfig = opts["repo-config"] ? await readFile(opts["repo-config"], "utf8") : modelAgent ? `agent:\n  use: ${modelAgent}\ntest:\n  command: npm test\n` : undefined;
  if (!opts.repo) {
    await gh.commit("acme/widgets", { files: { ...demoRepoFiles, ...(repoConfig !== undefined ? { ".github/bosun.yml": repoConfig } : {}) }, message: "Initial commit" });
    return;
  }
  // A local repository: its HEAD is pushed over git's smart HTTP as the default branch, by @maya
  // (a person's token may push workflows, as on GitHub).
  const dir = resolve(opts.repo);
  await run("git", ["-C", dir, "push", "--quiet", gh.cloneUrl("acme/widgets", gh.userToken("maya")), "HEAD:refs/heads/main"], { env: { ...process.env, GIT_TERMINAL_PROMPT: "0" } });
  if (repoConfig !== undefined) await gh.commit("acme/widgets", { files: { ".github/bosun.yml": repoConfig }, message: "Add Bosun settings", author: "maya" });
}

async function main(): Promise<number> {
  const adminUrl = process.env["DATABASE_URL"] ?? "postgres://bosun:bosun@127.0.0.1:5432/bosun";
  const databaseUrl = await freshDatabase(adminUrl);
  const gh = await OfflineGitHub.start();
  say(`Offline GitHub on ${gh.url} (app id ${gh.appId}); Postgres database ${new URL(databaseUrl).pathname.slice(1)}`);

  gh.createUser("maya", { name: "Maya Maintainer" });
  gh.createUser("owen", { name: "Owen Owner" });
  gh.createOrg("acme", { members: ["maya", "owen"] });
  // The people first: `--repo` pushes the local repository as @maya, which needs her write access.
  await gh.createRepo("acme/widgets", { description: "A tiny library with a bug" });
  gh.addCollaborator("acme/widgets", "maya", "maintain");
  gh.addCollaborator("acme/widgets", "owen", "write");
  await seedRepository(gh);
  gh.protectBranch("acme/widgets", "main", {
    requiredStatusChecks: { strict: false, contexts: ["bosun", "bosun/independent-review"], apps: { bosun: gh.appId, "bosun/independent-review": gh.appId } },
    requiredPullRequestReviews: { requiredApprovingReviewCount: 1, requireCodeOwnerReviews: true, dismissStaleReviews: true, requireLastPushApproval: true },
    enforceAdmins: true,
  });
  const model = modelAgent ? await demoModel(modelAgent) : null;
  if (opts["org-policy"]) {
    await gh.createRepo("acme/.github", { files: { ".github/bosun.yml": await readFile(opts["org-policy"], "utf8") } });
    say("Seeded acme/.github with the org policy.");
  } else if (model) {
    await gh.createRepo("acme/.github", { files: { ".github/bosun.yml": model.orgPolicy } });
    say(`The ${modelAgent ?? ""} agent talks to ${model.describe}; acme/.github's policy names it and lets the agent phase reach it.`);
  }
  gh.install("acme");

  const env = readEnv({
    ...process.env,
    DATABASE_URL: databaseUrl,
    GITHUB_API_URL: gh.url,
    // Sign in to the dashboard through the offline GitHub (as maya, say).
    GITHUB_URL: gh.webUrl,
    GITHUB_CLIENT_ID: gh.clientId,
    GITHUB_CLIENT_SECRET: gh.clientSecret,
    PORT: process.env["PORT"] ?? "3000",
    HOST: "127.0.0.1",
    ...(opts.agent && !modelAgent ? { BOSUN_DEFAULT_AGENT_COMMAND: opts.agent } : {}),
  });
  const bosun = await startBosun({
    env, appId: gh.appId, privateKey: gh.privateKey, webhookSecret: gh.webhookSecret,
    log: pino({ level: process.env["LOG_LEVEL"] ?? "warn" }, pino.destination(2)),
  });
  gh.setWebhookUrl(bosun.webhookUrl);
  say(`Bosun on ${bosun.url}, webhooks at ${bosun.webhookUrl}`);

  try {
    const maya = gh.as("maya");
    const issue = await maya.rest.issues.create({ owner: "acme", repo: "widgets", title: opts["issue-title"] ?? demoIssue.title, body: opts["issue-body"] ?? demoIssue.body });
    say(`@maya opened acme/widgets#${issue.data.number}: ${issue.data.title}`);
    await maya.rest.issues.addLabels({ owner: "acme", repo: "widgets", issue_number: issue.data.number, labels: [opts.label] });
    say(`@maya added the label "${opts.label}"\n`);

    const deadline = Date.now() + Number(opts.timeout) * 1000;
    let shown = "";
    let finished = null;
    const approvedRuns = new Set<string>();
    while (Date.now() < deadline) {
      const progress = [...gh.repo("acme/widgets").comments.values()].find((c) => c.issueNumber === issue.data.number && c.body.includes("bosun:progress"));
      if (progress && progress.body !== shown) {
        shown = progress.body;
        say(`── progress comment (${new Date().toLocaleTimeString()}) ──`);
        say(shown.split("\n").filter((l) => !l.startsWith("<!--")).join("\n").trim());
        say();
      }
      const runs = await bosun.store.list({ owner: "acme", repo: "widgets", issueNumber: issue.data.number });
      const last = runs[runs.length - 1];
      // Bosun pushes nothing the agent wrote before someone other than the requester has looked:
      // Owen reads the change in the progress comment and approves it.
      if (last?.state === "awaiting_push_approval" && !approvedRuns.has(last.id)) {
        approvedRuns.add(last.id);
        await gh.as("owen").rest.issues.createComment({ owner: "acme", repo: "widgets", issue_number: issue.data.number, body: "/bosun approve" });
        say(`@owen read the change above and commented "/bosun approve"\n`);
      }
      if (last && isTerminal(last.state)) {
        await bosun.worker.idle();
        finished = await bosun.store.get(last.id);
        const final = [...gh.repo("acme/widgets").comments.values()].find((c) => c.issueNumber === issue.data.number && c.body.includes("bosun:progress"));
        if (final && final.body !== shown) {
          shown = final.body;
          say("── progress comment (final) ──");
          say(shown.split("\n").filter((l) => !l.startsWith("<!--")).join("\n").trim());
          say();
        }
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    if (!finished) {
      say("The run did not finish in time.");
      return 1;
    }

    const outDir = resolve(".bosun", "demo");
    await mkdir(outDir, { recursive: true });
    const transcriptPath = join(outDir, `${finished.id}.jsonl`);
    await writeFile(transcriptPath, toJsonl(await readTranscript(bosun.pool, finished.id)));

    const prIssue = finished.prNumber ? gh.repo("acme/widgets").issues.get(finished.prNumber) : undefined;
    const headSha = prIssue?.pull ? await gh.branchSha("acme/widgets", prIssue.pull.head) : null;
    const check = [...gh.repo("acme/widgets").checkRuns.values()].filter((c) => c.name === "bosun" && c.headSha === headSha).pop();
    for (const c of [...gh.repo("acme/widgets").comments.values()].filter((x) => x.issueNumber === issue.data.number && x.body.includes("bosun:plan"))) {
      say("── plan comment ──");
      say(c.body.split("\n").filter((l) => !l.startsWith("<!--")).join("\n").trim());
      say();
    }
    if (prIssue?.pull) {
      say(`── pull request #${prIssue.number}${prIssue.pull.draft ? " (draft)" : " (ready for review)"} ──`);
      say(`Title: ${prIssue.title}`);
      say(`Branch: ${prIssue.pull.head} → ${prIssue.pull.base}`);
      say(`Check "bosun": ${check?.conclusion ?? "none"}${check?.output.title ? ` (${check.output.title})` : ""}`);
      say(`Reviewers requested: ${[...prIssue.pull.requestedReviewers].join(", ") || "none"}`);
      say();
      say(prIssue.body ?? "");
      say();
    }
    say(`Run ${finished.id} ended ${finished.state}. Transcript: ${transcriptPath}`);
    say(`Dashboard: ${bosun.url}/runs/${finished.id} (sign in through the offline GitHub as maya)`);
    if (opts.json) {
      console.log(JSON.stringify({
        run_id: finished.id,
        state: finished.state,
        pull_request: prIssue?.pull ? { number: prIssue.number, url: finished.prUrl, draft: prIssue.pull.draft, check_conclusion: check?.conclusion ?? null } : null,
        progress_comment: shown,
        transcript: transcriptPath,
      }));
    }
    if (opts.stay) {
      say("Bosun and the offline GitHub keep running; Ctrl-C stops them.");
      await new Promise((resolve) => process.once("SIGINT", resolve));
    }
    return finished.state === "succeeded" ? 0 : 1;
  } finally {
    await bosun.close();
    await gh.close();
    await model?.close();
  }
}

main().then((code) => process.exit(code), (e: unknown) => {
  console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
