// Phases, network and secrets: setup installs from a registry stand-in on the host's loopback
// through the recording proxy; the agent's way out is refused; secrets reach only their phase and
// come out nowhere Bosun stores or posts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { registryStandIn, standInPhaseRules } from "../helpers/registry-stand-in.ts";
import { seedDemoRepo } from "../helpers/seed.ts";

const setupSecret = "setup-only-5ecret-7f3a9c";
const agentSecret = "agent-5ecret-b81d2e44";

const agentScript = (port: number): string => [
  '[ -z "$SETUP_TOKEN" ] && echo "SETUP_TOKEN is absent" || echo "SETUP_TOKEN is present"',
  'echo "the agent secret is $AGENT_SECRET"',
  // The secret split across two writes, so it arrives in two chunks.
  'printf "split: %s" "$(echo "$AGENT_SECRET" | cut -c1-8)"; sleep 0.5; printf "%s\\n" "$(echo "$AGENT_SECRET" | cut -c9-)"',
  `node -e 'const http=require("http"); for (const u of ["http://evil.bosun.test/", "http://localhost:${port}/left-pad"]) http.get({host:"127.0.0.1",port:3128,path:u,headers:{host:new URL(u).host}}, r=>{let b="";r.on("data",d=>b+=d);r.on("end",()=>console.log(JSON.stringify({type:"tool_result",tool:"fetch",url:u,status:r.statusCode,body:b.slice(0,200)})))}).on("error",e=>console.log(e.message))'`,
  "sleep 1",
  "node /bosun/agents/patch-agent.mjs",
  `node -e 'const f="/bosun/result.json"; const r=JSON.parse(require("fs").readFileSync(f)); r.summary += "\\nsecret: " + process.env.AGENT_SECRET; require("fs").writeFileSync(f, JSON.stringify(r))'`,
].join("\n");

for (const runtime of ["runc", "runsc"] as const) test(`under ${runtime}: allowlist, registry installs, refusals and secrets`, async (t) => {
  const registry = await registryStandIn();
  t.after(() => registry.close());
  process.env["BOSUN_SECRET_SETUP_TOKEN"] = setupSecret;
  process.env["BOSUN_SECRET_AGENT_SECRET"] = agentSecret;
  t.after(() => {
    delete process.env["BOSUN_SECRET_SETUP_TOKEN"];
    delete process.env["BOSUN_SECRET_AGENT_SECRET"];
  });
  const logs: string[] = [];
  const logStream = new PassThrough();
  logStream.on("data", (d: Buffer) => logs.push(d.toString()));
  const w = await startBosunWorld(t, { BOSUN_RUNTIME: runtime }, { logStream });

  const p = registry.port;
  await seedDemoRepo(w.gh, "networked", {
    files: {
      ".gitignore": "node_modules/\n",
      ".github/bosun.yml": [
        "setup:",
        `  command: npm install --no-audit --no-fund --no-save --registry http://registry.bosun.test:${p}/ left-pad@1.3.0 && echo "setup saw $SETUP_TOKEN"`,
        "agent:",
        `  command: ${JSON.stringify(agentScript(p))}`,
        "test:",
        "  command: npm test",
        "",
      ].join("\n"),
    },
  });
  await w.gh.createRepo("acme/.github", {
    files: {
      ".github/bosun.yml": [
        "sandbox:",
        "  phases:",
        "    setup:",
        ...standInPhaseRules(p),
        "      secrets: [SETUP_TOKEN]",
        "    agent:",
        "      network: allowlist",
        `      hosts: ["localhost:${p}"]`,
        "      secrets: [AGENT_SECRET]",
        "      secrets_reach_agent_code: true",
        "    test:",
        "      network: none",
        "",
      ].join("\n"),
    },
  });

  const maya = w.gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo: "networked", title: demoIssue.title, body: demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo: "networked", issue_number: issue.data.number, labels: ["bosun"] });
  const run = await w.waitForRun({ repo: "acme/networked", issue: issue.data.number });
  assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${run.lastError ?? ""} ${JSON.stringify(run.facts.failure ?? {})}`);

  const events = await readTranscript(w.bosun.pool, run.id);
  const network = events.filter((e) => e.kind === "network").map((e) => [e.payload["phase"], e.payload["host"], e.payload["allowed"]]);
  assert.ok(network.some(([ph, h, ok]) => ph === "setup" && h === "registry.bosun.test" && ok === true), JSON.stringify(network));
  assert.ok(network.some(([ph, h, ok]) => ph === "agent" && h === "evil.bosun.test" && ok === false), JSON.stringify(network));
  assert.ok(network.some(([ph, h, ok]) => ph === "agent" && h === "localhost" && ok === false));
  const refusal = events.find((e) => e.kind === "network" && e.payload["host"] === "localhost");
  assert.match(String(refusal?.payload["reason"]), /resolves to .*(127\.0\.0\.1|::1)/);
  // The setup cache was made by a setup given SETUP_TOKEN, which the setup before the tests is not given.
  const notUsed = events.find((e) => e.payload["cache"] === "not used" && e.payload["purpose"] === "tests");
  assert.match(String(notUsed?.payload["reason"]), /the cache was made by a setup given SETUP_TOKEN, which this setup may not have/, JSON.stringify(events.filter((e) => e.payload["cache"] !== undefined).map((e) => e.payload)));
  const installs = events.filter((e) => e.kind === "dependency_install").map((e) => [e.payload["phase"], e.payload["ecosystem"], e.payload["name"], e.payload["version"]]);
  // For the agent, and again before the tests (the cache, made with SETUP_TOKEN, is not theirs).
  assert.deepEqual(installs, [["setup", "npm", "left-pad", "1.3.0"], ["setup", "npm", "left-pad", "1.3.0"]]);
  const agentSaid = events.filter((e) => e.kind === "agent_output").map((e) => String(e.payload["line"]));
  assert.ok(agentSaid.includes("SETUP_TOKEN is absent"), "the setup-only secret is gone before the agent starts");
  assert.ok(agentSaid.includes("the agent secret is [REDACTED]"));
  assert.ok(agentSaid.includes("split: [REDACTED]"), "a secret split across output chunks is still redacted");
  const fetched = events.filter((e) => e.kind === "tool_result" && e.payload["tool"] === "fetch").map((e) => e.payload["status"]);
  assert.deepEqual(fetched, [403, 403]);

  const pr = [...w.gh.repo("acme/networked").issues.values()].find((i) => i.pull);
  assert.match(pr?.body ?? "", /- setup: reached `registry\.bosun\.test:\d+`; refused nothing/);
  assert.match(pr?.body ?? "", /- agent: reached nothing; refused `evil\.bosun\.test:80`, `localhost:\d+`/);
  assert.match(pr?.body ?? "", /secret: \[REDACTED\]/);

  // Nowhere: Postgres, the issue, the pull request, commits, the logs.
  const dump = await w.bosun.pool.query<{ all: string }>("SELECT (SELECT coalesce(json_agg(r), '[]') FROM runs r)::text || (SELECT coalesce(json_agg(e), '[]') FROM run_events e)::text AS all");
  const haystacks: [string, string][] = [
    ["postgres", String(dump.rows[0]?.all)],
    ["issue and pull request comments", [...w.gh.repo("acme/networked").comments.values()].map((c) => c.body).join("\n")],
    ["pull request", `${pr?.title ?? ""}\n${pr?.body ?? ""}`],
    ["commits", execFileSync("git", ["log", "--all", "--format=%B"], { cwd: w.gh.world.git.path("acme", "networked") }).toString()],
    ["logs", logs.join("")],
  ];
  for (const [where, text] of haystacks) {
    assert.ok(text.length > 0, `${where} has content`);
    for (const secret of [setupSecret, agentSecret]) assert.ok(!text.includes(secret), `${where} does not hold a secret`);
  }
});
