// Secrets and code the agent wrote: the test phase runs the agent's commit, so it gets no secret
// unless the org says so in words (`secrets_reach_agent_code`), and with it the secret's base64 in
// the output is redacted. A change that holds a secret is refused whatever form it takes: base64
// in a text file, in a `.md` file hidden as "binary" by an agent-written `.gitattributes`, or in a
// binary file (whose patch is compressed). And the dashboard's diff shows such a `.md` change as text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readTranscript, type TranscriptEvent } from "../../src/audit/transcript.ts";
import type { Run } from "../../src/runs/run.ts";
import { startBosunWorld, type BosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const testSecret = "t3st-phase-5ecret-c41f9e07";
const agentSecret = "agent-phase-5ecret-9b2d71aa";
const b64 = (s: string | Buffer): string => Buffer.from(s).toString("base64");

const repoFile = (agentCommand: string, testCommand: string | null): string =>
  [`agent:`, `  command: ${JSON.stringify(agentCommand)}`, ...(testCommand ? ["test:", `  command: ${JSON.stringify(testCommand)}`] : []), ""].join("\n");

async function dumpOf(w: BosunWorld): Promise<string> {
  const dump = await w.bosun.pool.query<{ all: string }>("SELECT (SELECT coalesce(json_agg(r), '[]') FROM runs r)::text || (SELECT coalesce(json_agg(e), '[]') FROM run_events e)::text AS all");
  return String(dump.rows[0]?.all);
}

function branches(w: BosunWorld, repo: string): string[] {
  return execFileSync("git", ["for-each-ref", "--format=%(refname)", "refs/heads"], { cwd: w.gh.world.git.path("acme", repo) }).toString().split("\n").filter(Boolean);
}

const describeRun = (run: Run): string => `${run.state}: ${run.outcome ?? ""} ${run.lastError ?? ""} ${JSON.stringify(run.facts.failure ?? {})}`;

test("the test phase gets a secret only with secrets_reach_agent_code; its base64 in the output is redacted", async (t) => {
  process.env["BOSUN_SECRET_TEST_SECRET"] = testSecret;
  t.after(() => delete process.env["BOSUN_SECRET_TEST_SECRET"]);
  const w = await startBosunWorld(t);
  // The agent writes a test that prints the secret's length and its base64.
  const agent = [
    "cat > bosun-test.sh <<'EOF'",
    'echo "len=${#TEST_SECRET}"',
    `echo "b64=$(printf %s "$TEST_SECRET" | base64 | tr -d '\\n')"`,
    "EOF",
  ].join("\n");
  for (const repo of ["plain", "flagged"]) await seedDemoRepo(w.gh, repo, { files: { ".github/bosun.yml": repoFile(agent, "sh bosun-test.sh") } });
  await w.gh.createRepo("acme/.github", {
    files: {
      ".github/bosun.yml": [
        "sandbox:",
        "  phases:",
        "    test: { secrets: [TEST_SECRET] }",
        "repositories:",
        "  - match: flagged",
        "    sandbox:",
        "      phases:",
        "        test: { secrets: [TEST_SECRET], secrets_reach_agent_code: true }",
        "",
      ].join("\n"),
    },
  });
  const issues = { plain: await labelDemoIssue(w.gh, "plain"), flagged: await labelDemoIssue(w.gh, "flagged") };
  const runs: Record<string, { run: Run; events: TranscriptEvent[] }> = {};
  for (const [repo, issue] of Object.entries(issues)) {
    const run = await w.waitForRun({ repo: `acme/${repo}`, issue });
    assert.equal(run.state, "succeeded", describeRun(run));
    runs[repo] = { run, events: await readTranscript(w.bosun.pool, run.id) };
  }

  const plain = runs["plain"]!;
  const testEvent = plain.events.find((e) => e.kind === "test");
  assert.match(String(testEvent?.payload["output_tail"]), /^len=0$/m, "the test phase did not get the secret");
  const withheld = plain.events.filter((e) => e.kind === "policy_decision" && e.payload["decision"] === "withheld");
  assert.ok(withheld.length >= 1, "a policy_decision says the secret was withheld");
  for (const e of withheld) {
    assert.equal(e.payload["phase"], "test");
    assert.deepEqual(e.payload["withheld"], ["TEST_SECRET"]);
    assert.match(String(e.payload["reason"]), /runs the agent's commit.*secrets_reach_agent_code/);
  }
  assert.ok(plain.run.facts.policyAdjustments?.some((a) => /`TEST_SECRET` withheld/.test(a.message)), "the maintainer sees it in the progress comment");
  const progress = [...w.gh.repo("acme/plain").comments.values()].map((c) => c.body).join("\n");
  assert.match(progress, /`TEST_SECRET` withheld: the test phase runs the agent's commit/);

  const flagged = runs["flagged"]!;
  const flaggedTest = flagged.events.find((e) => e.kind === "test");
  assert.match(String(flaggedTest?.payload["output_tail"]), new RegExp(`^len=${testSecret.length}$`, "m"), "with the flag the test phase got it");
  assert.match(String(flaggedTest?.payload["output_tail"]), /^b64=\[REDACTED\]$/m, "its base64 is redacted");
  assert.ok(!flagged.events.some((e) => e.kind === "policy_decision" && e.payload["decision"] === "withheld"));

  const dump = await dumpOf(w);
  const prs = [...w.gh.repo("acme/flagged").issues.values()].map((i) => `${i.title}\n${i.body}`).join("\n");
  for (const form of [testSecret, b64(testSecret), b64(testSecret).replace(/=+$/, "")]) {
    assert.ok(!dump.includes(form), `Postgres does not hold ${form}`);
    assert.ok(!prs.includes(form), "nor the pull request");
  }
});

test("a change holding a secret's base64 is refused: a text file, a .md hidden by *.md -diff, a binary file; the .md diff shows as text", async (t) => {
  process.env["BOSUN_SECRET_AGENT_SECRET"] = agentSecret;
  t.after(() => delete process.env["BOSUN_SECRET_AGENT_SECRET"]);
  const w = await startBosunWorld(t);
  const agents: Record<string, string> = {
    "leak-text": 'printf "%s\\n" "$(printf %s "$AGENT_SECRET" | base64)" > notes.txt',
    "leak-md": [
      "printf '*.md -diff\\n' > .gitattributes",
      'printf "token: %s\\n" "$(printf %s "$AGENT_SECRET" | base64)" >> README.md',
    ].join("\n"),
    // NUL bytes make it binary; the base64 of one byte and the secret puts the secret at the second offset of a group.
    "leak-binary": "{ printf 'head\\000\\000\\001'; { printf '\\001'; printf %s \"$AGENT_SECRET\"; } | base64 -w0; printf '\\000tail'; } > blob.bin",
    "md-diff": [
      "printf '*.md -diff\\n' > .gitattributes",
      "printf 'hello from the agent\\n' >> README.md",
    ].join("\n"),
  };
  for (const [repo, agent] of Object.entries(agents)) await seedDemoRepo(w.gh, repo, { files: { ".github/bosun.yml": repoFile(agent, null) } });
  await w.gh.createRepo("acme/.github", {
    files: { ".github/bosun.yml": ["sandbox:", "  phases:", "    agent: { secrets: [AGENT_SECRET], secrets_reach_agent_code: true }", ""].join("\n") },
  });
  const issues: Record<string, number> = {};
  for (const repo of Object.keys(agents)) issues[repo] = await labelDemoIssue(w.gh, repo);

  for (const repo of ["leak-text", "leak-md", "leak-binary"]) {
    const run = await w.waitForRun({ repo: `acme/${repo}`, issue: issues[repo]! });
    assert.equal(run.state, "failed", `${repo}: ${describeRun(run)}`);
    assert.match(run.outcome ?? "", /contains the value of a secret/, `${repo}: ${describeRun(run)}`);
    assert.deepEqual(branches(w, repo), ["refs/heads/main"], `${repo}: nothing pushed`);
    assert.ok(![...w.gh.repo(`acme/${repo}`).issues.values()].some((i) => i.pull), `${repo}: no pull request`);
  }
  const binary = await w.bosun.store.list({ owner: "acme", repo: "leak-binary", issueNumber: issues["leak-binary"]! });
  assert.match(binary[binary.length - 1]?.outcome ?? "", /in `blob\.bin`/, "the binary file was found by the whole-file search");

  const run = await w.waitForRun({ repo: "acme/md-diff", issue: issues["md-diff"]! });
  assert.equal(run.state, "succeeded", describeRun(run));
  const diff = (await readTranscript(w.bosun.pool, run.id)).find((e) => e.kind === "file_diff");
  assert.match(String(diff?.payload["diff"]), /^\+hello from the agent$/m, "the .md change shows as text under *.md -diff");
  assert.doesNotMatch(String(diff?.payload["diff"]), /Binary files/);

  const dump = await dumpOf(w);
  const encoded = b64(agentSecret).replace(/=+$/, "");
  for (const form of [agentSecret, encoded]) assert.ok(!dump.includes(form), `Postgres does not hold ${form}`);
});
