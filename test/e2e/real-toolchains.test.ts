// Repositories in the languages of bosun/agent-universal, each from a labelled issue to a ready pull
// request with a passing `bosun` check, in the image the org's policy makes its repositories'
// default (`sandbox.default_image`): a Python package tested with unittest in a virtual
// environment, a Go module (`go test ./...`), a Rust crate (`cargo test --offline`), and a
// TypeScript package whose tests need ~350 packages that `npm ci` installs from the real npm
// registry, through the egress proxy and this machine's TLS-inspecting proxy (the host's CA bundle
// as BOSUN_SANDBOX_CA_CERTS, as in sandbox-ca.test.ts). The repositories are written by the test
// (test/fixtures/real-repos.ts); the fix comes from the bundled agent, which applies the issue's
// ```diff block. The only destination outside this machine is the npm registry.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTranscript } from "../../src/audit/transcript.ts";
import { goRepo, npmRepo, pythonRepo, rustRepo, type RealRepo } from "../fixtures/real-repos.ts";
import { startBosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo, seedRepo, seedRepoWithFix } from "../helpers/seed.ts";

const universal = "bosun/agent-universal:latest";
const hostBundle = "/etc/ssl/certs/ca-certificates.crt";
const orgPolicy = [
  "sandbox:",
  `  default_image: ${universal}`,
  "  phases:",
  "    setup: { network: allowlist, presets: [npm] }",
  "repositories:",
  "  - match: misconfigured",
  "    sandbox: { default_image: acme/nowhere:1 }",
  "",
].join("\n");

const seconds = (from: Date, to: Date): string => `${((to.getTime() - from.getTime()) / 1000).toFixed(1)} s`;

test("Python, Go, Rust and npm repositories go from a labelled issue to a ready pull request in the org's default image, the universal one", async (t) => {
  const w = await startBosunWorld(t, { BOSUN_SANDBOX_CA_CERTS: hostBundle });
  await seedRepo(w.gh, ".github", { files: { ".github/bosun.yml": orgPolicy } });
  const repos: RealRepo[] = [npmRepo(), pythonRepo(), goRepo(), rustRepo()];
  // All labelled at once: Bosun works on two at a time (BOSUN_CONCURRENCY), the rest wait.
  const issues = new Map<string, number>();
  for (const r of repos) issues.set(r.name, await seedRepoWithFix(w.gh, r.name, { files: r.files, fixed: r.fixed, title: r.issue.title, text: r.issue.text }));
  await seedDemoRepo(w.gh, "misconfigured");
  const misconfigured = await labelDemoIssue(w.gh, "misconfigured");

  await t.test("a default image the org does not allow refuses the run, naming the setting", async () => {
    const run = await w.waitForRun({ repo: "acme/misconfigured", issue: misconfigured, timeoutMs: 600_000 });
    assert.equal(run.state, "failed");
    const message = /^The org's Bosun policy names a default image it does not allow, so Bosun did not start the agent: `sandbox\.default_image`: `acme\/nowhere:1` is not an image the org allows \(acme\/\.github: \.github\/bosun\.yml, repositories\[0\] \(misconfigured\)\); allowed: `bosun\/agent-base:latest`, `bosun\/agent-clis:latest`, `bosun\/agent-universal:latest`/;
    assert.match(run.outcome ?? "", message);
    const progress = [...w.gh.repo("acme/misconfigured").comments.values()].find((c) => c.body.includes("bosun:progress"));
    assert.ok(progress?.body.includes("`sandbox.default_image`: `acme/nowhere:1` is not an image the org allows"), progress?.body);
    const events = await readTranscript(w.bosun.pool, run.id);
    assert.ok(events.some((e) => e.kind === "policy_decision" && e.payload["decision"] === "refused" && e.payload["rule"] === "sandbox.default_image"));
    assert.ok(!events.some((e) => e.kind === "command"), "no sandbox ran");
  });

  for (const r of repos) {
    await t.test(`${r.name}: \`${r.setup ?? ""}\`, then \`${r.test}\``, async (st) => {
      const full = `acme/${r.name}`;
      const run = await w.waitForRun({ repo: full, issue: issues.get(r.name) ?? 0, timeoutMs: 900_000 });
      const events = await readTranscript(w.bosun.pool, run.id);
      const setupEnds = events.filter((e) => e.kind === "command" && e.payload["phase"] === "setup" && "exit_code" in e.payload);
      assert.equal(run.state, "succeeded", `${run.outcome ?? ""}\n${run.facts.testOutputTail ?? ""}\n${run.facts.agentOutputTail ?? ""}\n${setupEnds.map((e) => String(e.payload["output_tail"])).join("\n---\n")}`);

      // The image: the org's default, as the repository names none.
      assert.equal(run.facts.policy?.image, universal);
      assert.equal(run.facts.policySources?.["image"], "`sandbox.default_image` (acme/.github: .github/bosun.yml)");
      const agentStart = events.find((e) => e.kind === "command" && e.payload["phase"] === "agent" && "image" in e.payload);
      assert.equal(agentStart?.payload["image"], universal);

      // The pull request: ready for review, the fix on its branch, the tests passed.
      const repo = w.gh.repo(full);
      const pull = [...repo.issues.values()].find((i) => i.pull);
      assert.ok(pull?.pull, "a pull request was opened");
      assert.equal(pull.state, "open");
      assert.equal(pull.pull.draft, false, "ready for review, not a draft");
      assert.ok((pull.body ?? "").includes(`\`${r.test}\`: ✅ passed`), pull.body ?? "");
      for (const [path, content] of Object.entries(r.fixed)) assert.equal(await w.gh.fileAt(full, pull.pull.head, path), content, `${path} on ${pull.pull.head}`);
      const headSha = await w.gh.branchSha(full, pull.pull.head);
      assert.equal(headSha, run.facts.commitSha);
      const check = [...repo.checkRuns.values()].find((c) => c.name === "bosun" && c.headSha === headSha);
      assert.deepEqual([check?.status, check?.conclusion, check?.output.title], ["completed", "success", "Tests passed"]);
      assert.match(check?.output.summary ?? "", new RegExp(`^\`${r.test.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\` passed on ${headSha?.slice(0, 7) ?? "?"}\\.`));
      assert.match(check?.output.text ?? "", r.passes, "the check shows the test output");

      // The transcript: setup for the agent's workspace, passing and saved to the setup cache; on
      // the agent's commit (which changed no file setup reads) the cache restored before the tests;
      // the tests passing on that commit.
      const setupStarts = events.filter((e) => e.kind === "command" && e.payload["phase"] === "setup" && e.payload["command"] === r.setup && e.payload["cache"] === undefined);
      assert.deepEqual(setupStarts.map((e) => e.payload["purpose"] ?? "agent"), ["agent"]);
      assert.deepEqual(setupEnds.map((e) => e.payload["exit_code"]), [0]);
      const cache = events.filter((e) => e.kind === "command" && e.payload["cache"] !== undefined);
      assert.deepEqual(cache.map((e) => [e.payload["purpose"] ?? "agent", e.payload["cache"]]), [["agent", "none"], ["agent", "saved"], ["tests", "restored"]], JSON.stringify(cache.map((e) => e.payload)));
      assert.equal(cache[2]?.payload["commit"], headSha);
      const tests = events.filter((e) => e.kind === "test");
      assert.equal(tests.length, 1);
      assert.deepEqual([tests[0]?.payload["command"], tests[0]?.payload["exit_code"], tests[0]?.payload["commit"]], [r.test, 0, headSha]);
      assert.match(String(tests[0]?.payload["output_tail"]), r.passes);

      // The network: npm's setup reached the npm registry and nothing else; the others reached nothing.
      const network = events.filter((e) => e.kind === "network").map((e) => [e.payload["phase"], e.payload["host"], e.payload["allowed"]]);
      if (r.name === "slugger") {
        assert.ok(network.length > 0 && network.every(([phase, host, allowed]) => phase === "setup" && host === "registry.npmjs.org" && allowed === true), JSON.stringify(network.slice(0, 5)));
        assert.match(String(setupEnds[0]?.payload["output_tail"]), /^added 3\d\d packages/m);
      } else {
        assert.deepEqual(network, []);
      }

      const at = (e: (typeof events)[number] | undefined): Date => e?.at ?? run.stateChangedAt;
      st.diagnostic(`${r.name}: labelled → ${run.state} ${seconds(run.createdAt, run.stateChangedAt)}; setup for the agent ${seconds(at(setupStarts[0]), at(setupEnds[0]))}; saving its cache ${String(cache[1]?.payload["seconds"])} s, ${Math.round(Number(cache[1]?.payload["bytes"]) / 2 ** 20)} MiB; restoring it before the tests ${String(cache[2]?.payload["seconds"])} s`);
    });
  }
});
