// The dashboard in a real browser (Playwright driving Debian's Chromium): a maintainer signs in
// through the offline GitHub's OAuth pages, follows a running run's live log, reads the finished
// run's diff, network table and tokens, cancels another run with the button and sees the org's
// policy; someone without access to the repository gets 404. Screenshots of every page are
// saved under test-artifacts/dashboard/.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startBosunWorld, type BosunWorld } from "../helpers/bosun-world.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";
import { until } from "../helpers/bosun-process.ts";
import { isTerminal } from "../../src/runs/run.ts";

const artifacts = join(process.cwd(), "test-artifacts", "dashboard");
const probe = `node -e 'require("http").get({host:"127.0.0.1",port:3128,path:"http://evil.bosun.test/",headers:{host:"evil.bosun.test"}}, r => r.resume()).on("error", () => {})'`;
// An agent that works for a while, saying what it does, before it makes the demo's fix.
const chattyAgent = `${probe}; for i in $(seq 1 25); do echo "working on step $i"; sleep 1; done; node /bosun/agents/patch-agent.mjs`;

async function signIn(browser: Browser, w: BosunWorld, login: string, shot: string): Promise<{ context: BrowserContext; page: Page }> {
  // A viewer in Tokyo: times on the page are shown in the browser's zone.
  const context = await browser.newContext({ timezoneId: "Asia/Tokyo", locale: "en-GB", viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(30_000);
  const page = await context.newPage();
  await page.goto(`${w.bosun.url}/runs`);
  await page.getByRole("link", { name: "Sign in with GitHub" }).click();
  // The offline GitHub's sign-in and authorization page.
  await page.getByLabel("Username or email address").fill(login);
  await page.screenshot({ path: join(artifacts, `${shot}-github-sign-in.png`) });
  await page.getByRole("button", { name: /^Authorize/ }).click();
  await page.waitForURL(`${w.bosun.url}/runs`);
  return { context, page };
}

test("the dashboard in a browser: sign in, live log, finished run, cancel, policy, and 404 without access", async (t) => {
  await mkdir(artifacts, { recursive: true });
  // Closed first (hooks run in order), so no page holds a live stream open while Bosun stops.
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true, args: ["--no-sandbox"] });
  t.after(() => browser.close());
  const w = await startBosunWorld(t);
  await seedDemoRepo(w.gh, "harbor", { protect: true, files: { ".github/bosun.yml": `agent:\n  command: ${JSON.stringify(chattyAgent)}\ntest:\n  command: npm test\nsandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: []\n` } });
  // The org lets agents use an allowlist (an empty one): the agent's attempt shows as refused.
  await w.gh.createRepo("acme/.github", { files: { ".github/bosun.yml": "sandbox:\n  phases:\n    agent:\n      network: allowlist\n      hosts: []\n" } });
  await seedDemoRepo(w.gh, "anchor", { files: { ".github/bosun.yml": "agent:\n  command: sleep 600\n" } });
  w.gh.world.orgs.get("acme")?.members.set("maya", "admin");
  w.gh.createUser("stranger");

  const slowIssue = await labelDemoIssue(w.gh, "harbor");
  const stuckIssue = await labelDemoIssue(w.gh, "anchor", { title: "Count the anchors" });
  // The live log is watched while the agent is still printing.
  const slow = await w.waitForRun({ repo: "acme/harbor", issue: slowIssue, until: (r) => r.state === "running" });
  const stuck = await w.waitForRun({ repo: "acme/anchor", issue: stuckIssue, until: (r) => r.state === "running" });

  const { context, page } = await signIn(browser, w, "maya", "maintainer");
  const cookie = (await context.cookies()).find((c) => c.name === "bosun_session");
  assert.ok(cookie, "a session cookie");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Lax");
  assert.equal(cookie.secure, false, "served over http here; Secure when BOSUN_PUBLIC_URL is https");

  // The runs list, filterable.
  await assert.doesNotReject(page.getByRole("link", { name: `acme/harbor#${slowIssue}` }).waitFor());
  await assert.doesNotReject(page.getByRole("link", { name: `acme/anchor#${stuckIssue}` }).waitFor());
  await page.screenshot({ path: join(artifacts, "runs.png"), fullPage: true });
  await page.selectOption("select[name=repository]", "acme/anchor");
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForURL(/repository=acme%2Fanchor/);
  assert.equal(await page.getByRole("link", { name: `acme/harbor#${slowIssue}` }).count(), 0, "the repository filter applies");

  // A run still running: everything so far, then new lines as the agent prints them.
  await page.goto(`${w.bosun.url}/runs/${slow.id}`);
  await page.getByRole("heading", { name: "Live log" }).waitFor();
  const stepsAtLoad = await page.locator("#log li", { hasText: "working on step" }).count();
  // New lines arrive through the live stream (the page's script marks what it adds as fresh).
  await until("new log lines", async () => (await page.locator("#log li.fresh", { hasText: "working on step" }).count()) >= 3, 60_000);
  assert.ok(await page.locator("#log li", { hasText: "working on step" }).count() >= stepsAtLoad + 3);
  const time = page.locator("#log li time").first();
  assert.doesNotMatch(await time.innerText(), /UTC$/, "times are in the viewer's zone");
  assert.match((await time.getAttribute("title")) ?? "", /Z$/);
  await page.screenshot({ path: join(artifacts, "run-live.png"), fullPage: true });

  // The same page once the run ends: it reloads itself with the results.
  await page.getByRole("heading", { name: "Events" }).waitFor({ timeout: 240_000 });
  // (Not waitForRun: it waits for the worker to go idle, and the other run works on.)
  const done = await until("the harbor run's end", async () => {
    const r = await w.bosun.store.get(slow.id);
    return r && isTerminal(r.state) ? r : null;
  });
  assert.equal(done.state, "succeeded", done.outcome ?? "");
  assert.equal(await page.locator(".facts [data-state]").innerText(), "succeeded");
  assert.ok(await page.locator("pre.diff span.add").count() > 0, "the diff's added lines");
  assert.match(await page.locator("ul.files").innerText(), /src\//, "the changed files");
  const network = page.locator("table.network");
  assert.match(await network.innerText(), /agent\s+evil\.bosun\.test:80\s+refused/);
  const tokens = await page.locator("table.tokens tbody tr").allInnerTexts();
  assert.ok(tokens.some((r) => /^fetch\b/.test(r) && r.includes("contents:read") && r.includes("acme/harbor")), `the fetch token: ${tokens.join(" | ")}`);
  assert.ok(tokens.some((r) => /^publish\b/.test(r) && r.includes("contents:write")), "the publish token");
  assert.ok(tokens.every((r) => !/not yet/.test(r)), "every token was revoked");
  assert.equal(await page.getByRole("link", { name: `#${done.prNumber}` }).first().getAttribute("href"), done.prUrl);
  await page.screenshot({ path: join(artifacts, "run-finished.png"), fullPage: true });
  const html = await page.content();
  for (const tk of w.gh.installationTokens()) assert.ok(!html.includes(tk.token), "no token reaches the page");

  // Cancel the other run with the button: the answer comes on the issue, the page follows.
  await page.goto(`${w.bosun.url}/runs/${stuck.id}`);
  await page.getByRole("button", { name: "Cancel run" }).click();
  await page.getByRole("status").filter({ hasText: "Cancel requested" }).waitFor();
  await page.locator(".facts [data-state]", { hasText: "cancelled" }).waitFor({ timeout: 60_000 });
  await page.screenshot({ path: join(artifacts, "run-cancelled.png"), fullPage: true });
  const cancelled = await w.waitForRun({ repo: "acme/anchor", issue: stuckIssue });
  assert.equal(cancelled.state, "cancelled");
  await until("the answer on the issue", () => Promise.resolve([...w.gh.repo("acme/anchor").comments.values()].some((c) => c.issueNumber === stuckIssue && c.body.includes("@maya (`cancel` on Bosun's dashboard) Cancelled run"))), 30_000);

  // An action without the session's token is refused, even from the same browser.
  const forged = await page.evaluate(async (url) => (await fetch(url, { method: "POST", body: new URLSearchParams({ csrf: "wrong" }) })).status, `${w.bosun.url}/runs/${done.id}/retry`);
  assert.equal(forged, 403);

  // The org admin's view of every repository's settings.
  await page.getByRole("link", { name: "Policy" }).click();
  await page.getByRole("heading", { name: "Effective policy" }).waitFor();
  await page.locator("summary", { hasText: "acme/harbor" }).click();
  const settings = await page.locator("details.policy[open]").innerText();
  assert.match(settings, /agent: network\s+allowlist\s+acme\/\.github: \.github\/bosun\.yml/, "the org's choice, with its source");
  assert.match(settings, /agent: hosts\s+none\s+\.github\/bosun\.yml/, "the repository's choice, with its source");
  await page.screenshot({ path: join(artifacts, "policy.png"), fullPage: true });

  // A phone.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${w.bosun.url}/runs/${done.id}`);
  await page.screenshot({ path: join(artifacts, "run-phone.png"), fullPage: true });
  await context.close();

  // Someone GitHub does not let read the repository: the run does not exist for them.
  const other = await signIn(browser, w, "stranger", "stranger");
  const res = await other.page.goto(`${w.bosun.url}/runs/${done.id}`);
  assert.equal(res?.status(), 404);
  await other.page.getByRole("heading", { name: "Not found" }).waitFor();
  assert.equal(await other.page.getByText("acme/harbor").count(), 0, "nothing of the run shows");
  await other.page.screenshot({ path: join(artifacts, "stranger-404.png"), fullPage: true });
  const list = await other.page.goto(`${w.bosun.url}/runs`);
  assert.equal(list?.status(), 200);
  assert.equal(await other.page.locator("table.runs").count(), 0, "an empty list");
  assert.equal((await other.page.goto(`${w.bosun.url}/policy`))?.status(), 404, "not an org admin");
  await other.context.close();
});
