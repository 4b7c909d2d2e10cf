// An outsider floods a public repository's issue with 200 `/bosun status` comments while an agent
// runs there: they get one reply, their commands cost no token, a maintainer's `/bosun cancel`
// still stops the agent within 10 s, and another repository's command is not held up behind them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { demoIssue } from "../../fixtures/demo-repo.ts";
import { startBosunWorld, type BosunWorld } from "../../helpers/bosun-world.ts";
import { docker, waitForContainer } from "../../helpers/docker.ts";
import { seedDemoRepo } from "../../helpers/seed.ts";

const floodSize = 200;

function replies(w: BosunWorld, repo: string, issue: number): string[] {
  return [...w.gh.repo(`acme/${repo}`).comments.values()].filter((c) => c.issueNumber === issue && c.body.includes("bosun:reply")).map((c) => c.body);
}

async function until<T>(what: string, timeoutMs: number, f: () => Promise<T | null> | T | null): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("a command flood from an outsider", async (t) => {
  // Writes spaced 100 ms apart, as a busy production Bosun's would be: answering 200 commands one
  // after another would take the cancel well past 10 s.
  const w = await startBosunWorld(t, { BOSUN_GITHUB_WRITE_INTERVAL_MS: "100" });
  await seedDemoRepo(w.gh, "flooded", { public: true, files: { ".github/bosun.yml": "agent:\n  command: sleep 300\n" } });
  await seedDemoRepo(w.gh, "quiet");
  w.gh.createUser("mallory");
  const maya = w.gh.as("maya");
  const mallory = w.gh.as("mallory");
  const n = (await maya.rest.issues.create({ owner: "acme", repo: "flooded", title: demoIssue.title, body: demoIssue.body })).data.number;
  const q = (await maya.rest.issues.create({ owner: "acme", repo: "quiet", title: "Hello", body: "Hi." })).data.number;
  await maya.rest.issues.addLabels({ owner: "acme", repo: "flooded", issue_number: n, labels: ["bosun"] });
  const running = await w.waitForRun({ repo: "acme/flooded", issue: n, until: (r) => r.state === "running" });
  await waitForContainer(running.id, "agent");
  const tokensBefore = new Set(w.gh.installationTokens().map((tk) => tk.token));

  const floodStarted = Date.now();
  for (let i = 0; i < floodSize; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, floodSize - i) }, () => mallory.rest.issues.createComment({ owner: "acme", repo: "flooded", issue_number: n, body: "/bosun status" })));
  }
  const floodPosted = Date.now();
  // Right behind the flood: the maintainer's cancel, and a command on another repository.
  const asked = Date.now();
  await Promise.all([
    maya.rest.issues.createComment({ owner: "acme", repo: "flooded", issue_number: n, body: "/bosun cancel" }),
    maya.rest.issues.createComment({ owner: "acme", repo: "quiet", issue_number: q, body: "/bosun status" }),
  ]);

  const quietAnswer = await until("the other repository's reply", 10_000, () => replies(w, "quiet", q)[0] ?? null);
  const quietMs = Date.now() - asked;
  assert.match(quietAnswer, /@maya There is no Bosun run for this issue\./);
  await until("the agent container to go", 10_000, async () => (await docker.listContainers({ all: true, filters: { label: [`bosun.run=${running.id}`] } })).length === 0 ? true : null);
  const cancelMs = Date.now() - asked;
  t.diagnostic(`${floodSize} outsider comments posted in ${floodPosted - floodStarted} ms; cancel acted on (agent container gone) ${cancelMs} ms after it was asked; the other repository answered in ${quietMs} ms`);
  assert.ok(cancelMs < 10_000);
  assert.ok(quietMs < 5_000, `the other repository's command waited ${quietMs} ms`);
  assert.equal((await w.waitForRun({ repo: "acme/flooded", issue: n })).state, "cancelled");
  await until("the cancel's reply", 10_000, () => replies(w, "flooded", n).find((r) => r.startsWith("@maya")) ?? null).then((r) => assert.match(r, /Cancelled run `[0-9a-f-]+`; its sandbox is stopped\./));

  // Every outsider command is handled (recorded with what it would have said), one is answered.
  await until("the flood to be handled", 30_000, async () => {
    const r = await w.bosun.pool.query<{ n: string }>("SELECT count(*) AS n FROM commands WHERE author = 'mallory' AND handled_at IS NOT NULL");
    return Number(r.rows[0]?.n) === floodSize ? true : null;
  });
  const toMallory = replies(w, "flooded", n).filter((r) => r.startsWith("@mallory"));
  assert.equal(toMallory.length, 1, "the outsider got exactly one reply");
  assert.match(toMallory[0] ?? "", /@mallory Only people the org's policy lets start work can give Bosun commands: @mallory has read access to acme\/flooded; the org's policy needs write or more\./);

  // The offline GitHub's log of minted tokens: none asked who mallory is (the payload's
  // author_association and the run's policy decided), and one token posted the one reply.
  const minted = w.gh.installationTokens().filter((tk) => !tokensBefore.has(tk.token));
  const paths = (tk: (typeof minted)[number]): string[] => tk.calls.map((c) => `${c.method} ${c.path}`);
  assert.deepEqual(minted.filter((tk) => paths(tk).some((p) => p.includes("/collaborators/mallory/permission"))), [], "no token was minted to look up the outsider");
  const forFlooded = minted.filter((tk) => paths(tk).some((p) => p.startsWith(`POST /repos/acme/flooded/issues/${n}/comments`)) && !paths(tk).some((p) => p.includes("/collaborators/maya/permission")));
  t.diagnostic(`installation tokens minted from the flood's start to its end: ${minted.length} (the outsider's one reply, the cancel, the other repository's command)`);
  assert.equal(forFlooded.length, 1, `tokens that answered the outsider: ${JSON.stringify(forFlooded.map(paths))}`);

  // On an issue with no run there is no recorded policy to decide by: the first command costs one
  // token (who mallory is, the org's policy, the reply), the next ones none; this issue gets its own one reply.
  const m = (await maya.rest.issues.create({ owner: "acme", repo: "flooded", title: "A question", body: "How do I build this?" })).data.number;
  const before = new Set(w.gh.installationTokens().map((tk) => tk.token));
  for (let i = 0; i < 30; i++) await mallory.rest.issues.createComment({ owner: "acme", repo: "flooded", issue_number: m, body: "/bosun policy" });
  await until("the second flood to be handled", 30_000, async () => {
    const r = await w.bosun.pool.query<{ n: string }>("SELECT count(*) AS n FROM commands WHERE author = 'mallory' AND issue_number = $1 AND handled_at IS NOT NULL", [m]);
    return Number(r.rows[0]?.n) === 30 ? true : null;
  });
  assert.equal(replies(w, "flooded", m).length, 1);
  const lookups = w.gh.installationTokens().filter((tk) => !before.has(tk.token) && paths(tk).some((p) => p.includes("/collaborators/mallory/permission")));
  assert.equal(lookups.length, 1, "one token looked mallory up; the refusal was remembered for the other 29");
});
