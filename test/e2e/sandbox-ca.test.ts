// Extra certificate authorities (BOSUN_SANDBOX_CA_CERTS) as a company behind a TLS-inspecting proxy
// has them: this machine reaches the npm registry only through such a proxy, whose CA the host's
// bundle holds and the agent image does not. With the host's bundle, setup reaches the real
// registry through Bosun's egress proxy (npm, and Python's ssl through the replacing bundle), the
// agent and test phases see the same files, and Docker reports the read-only bind; without it,
// npm fails on the certificate. The only destination is the npm registry, through the proxy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { demoIssue } from "../fixtures/demo-repo.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { waitForContainer } from "../helpers/docker.ts";
import { seedDemoRepo } from "../helpers/seed.ts";
import type { OfflineGitHub } from "../offline-github/server.ts";

const hostBundle = "/etc/ssl/certs/ca-certificates.crt";

/** The org lets setup reach the npm registry (preset) and nothing else; agent and tests have no network. */
async function seed(gh: OfflineGitHub, repo: string, bosunYml: string[]): Promise<number> {
  await seedDemoRepo(gh, repo, { files: { ".github/bosun.yml": [...bosunYml, ""].join("\n") } });
  await gh.createRepo("acme/.github", {
    files: { ".github/bosun.yml": ["sandbox:", "  phases:", "    setup:", "      network: allowlist", "      presets: [npm]", ""].join("\n") },
  });
  const maya = gh.as("maya");
  const issue = await maya.rest.issues.create({ owner: "acme", repo, title: demoIssue.title, body: demoIssue.body });
  await maya.rest.issues.addLabels({ owner: "acme", repo, issue_number: issue.data.number, labels: ["bosun"] });
  return issue.data.number;
}

for (const runtime of ["runc", "runsc"] as const) test(`under ${runtime}: with the host's CA bundle, setup reaches the real npm registry through the egress proxy, and every phase trusts it`, async (t) => {
  const w = await startBosunWorld(t, { BOSUN_SANDBOX_CA_CERTS: hostBundle, BOSUN_RUNTIME: runtime });
  const setup = [
    "set -e",
    "npm view is-number@7.0.0 version",
    // Python's ssl (OpenSSL) reads SSL_CERT_FILE: the complete bundle, public roots and the proxy's CA.
    `python3 -c "import urllib.request as u; print('python got', u.urlopen('https://registry.npmjs.org/is-number', timeout=60).status)"`,
    "sleep 4",
  ].join("\n");
  const check = 'test "$NODE_EXTRA_CA_CERTS" = /bosun/ca/extra.pem && test "$SSL_CERT_FILE" = /bosun/ca/bundle.pem && test -r /bosun/ca/bundle.pem && ! touch /bosun/ca/x 2>/dev/null';
  const issue = await seed(w.gh, "trusting", [
    "setup:",
    `  command: ${JSON.stringify(setup)}`,
    // Setup runs again before the tests (not restored from the cache), so every kind of sandbox is seen.
    "  cache: { enabled: false }",
    "agent:",
    `  command: ${JSON.stringify(`${check} && node /bosun/agents/patch-agent.mjs`)}`,
    "test:",
    `  command: ${JSON.stringify(`${check} && npm test`)}`,
  ]);

  const running = await w.waitForRun({ repo: "acme/trusting", issue, until: (r) => r.state === "running" || r.state === "failed" });
  const info = await waitForContainer(running.id, "setup", 60_000);
  const ca = info.Mounts.find((m) => m.Destination === "/bosun/ca");
  assert.ok(ca, `the setup container has /bosun/ca (mounts: ${JSON.stringify(info.Mounts)})`);
  assert.equal(ca.Type, "bind");
  assert.equal(ca.RW, false, "read-only");
  assert.match(ca.Source, /\/sandbox-ca$/);
  assert.equal(info.HostConfig.Runtime, runtime);
  assert.ok((info.HostConfig.Binds ?? []).includes(`${ca.Source}:/bosun/ca:ro`), JSON.stringify(info.HostConfig.Binds));
  assert.ok(info.Config.Env.includes("npm_config_cafile=/bosun/ca/bundle.pem"));
  assert.ok(info.Config.Env.includes("NODE_EXTRA_CA_CERTS=/bosun/ca/extra.pem"));

  const run = await w.waitForRun({ repo: "acme/trusting", issue, timeoutMs: 300_000 });
  const events = await readTranscript(w.bosun.pool, run.id);
  const setupEnd = events.find((e) => e.kind === "command" && e.payload["phase"] === "setup" && "exit_code" in e.payload);
  assert.equal(run.state, "succeeded", `${run.outcome ?? ""} ${JSON.stringify(run.facts.failure ?? {})} ${JSON.stringify(setupEnd?.payload["output_tail"] ?? "")}`);
  assert.equal(setupEnd?.payload["exit_code"], 0);
  assert.match(String(setupEnd?.payload["output_tail"]), /^7\.0\.0$/m, "npm read the real registry");
  assert.match(String(setupEnd?.payload["output_tail"]), /^python got 200$/m);
  const network = events.filter((e) => e.kind === "network").map((e) => [e.payload["phase"], e.payload["host"], e.payload["allowed"]]);
  assert.ok(network.some(([ph, h, ok]) => ph === "setup" && h === "registry.npmjs.org" && ok === true), JSON.stringify(network));
  assert.ok(network.every(([, h]) => h === "registry.npmjs.org"), "nothing but the npm registry");
  const trusted = events.filter((e) => e.kind === "policy_decision" && e.payload["rule"] === "sandbox.ca_certs");
  // Every sandbox: setup for the agent, the agent, setup again before the tests, the tests.
  assert.deepEqual(trusted.map((e) => e.payload["phase"]), ["setup", "agent", "setup", "test"]);
  for (const e of trusted) {
    assert.equal(e.payload["source"], hostBundle);
    assert.ok(Number(e.payload["certificates"]) > 0);
  }
  assert.ok(!JSON.stringify(events).includes("BEGIN CERTIFICATE"), "no certificate in the transcript");
  const tests = events.filter((e) => e.kind === "test");
  assert.equal(tests[0]?.payload["exit_code"], 0, "the test phase saw the same files and variables");
});

test("without the setting, npm in the sandbox fails on the inspecting proxy's certificate", async (t) => {
  const w = await startBosunWorld(t);
  // No retries and a short timeout, so the failure comes at once rather than after five minutes.
  const issue = await seed(w.gh, "untrusting", [
    "setup:",
    "  command: npm view is-number@7.0.0 version --fetch-retries=0 --fetch-timeout=30000",
  ]);
  const run = await w.waitForRun({ repo: "acme/untrusting", issue, timeoutMs: 180_000 });
  assert.equal(run.state, "failed");
  const events = await readTranscript(w.bosun.pool, run.id);
  assert.ok(!events.some((e) => e.kind === "policy_decision" && e.payload["rule"] === "sandbox.ca_certs"));
  const setupEnd = events.find((e) => e.kind === "command" && e.payload["phase"] === "setup" && "exit_code" in e.payload);
  assert.notEqual(setupEnd?.payload["exit_code"], 0);
  const tail = String(setupEnd?.payload["output_tail"]);
  t.diagnostic(tail.split("\n").filter((l) => /cert|CERT/.test(l)).slice(0, 3).join(" | "));
  assert.match(tail, /SELF_SIGNED_CERT_IN_CHAIN|self[- ]signed certificate in certificate chain/);
  // It got as far as the registry: the egress proxy let it through, and TLS was what failed.
  assert.ok(events.some((e) => e.kind === "network" && e.payload["host"] === "registry.npmjs.org" && e.payload["allowed"] === true));
});
