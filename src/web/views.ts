// The dashboard's pages: server-rendered HTML with hono/html, which escapes every value put into a
// template. No client framework: one small script follows a running run's events and shows times
// in the viewer's own zone.
import { html } from "hono/html";
import type { RunSummary } from "../audit/summary.ts";
import { describeProblems } from "../config/yaml-settings.ts";
import { policyRows, type PolicyDescription } from "../policy/describe-policy.ts";
import { isTerminal, runStates, type Run } from "../runs/run.ts";

export type Html = ReturnType<typeof html>;

export interface LogLine { seq: number; at: string; kind: string; label: string; text: string; agent: boolean }

export interface Page {
  title: string;
  viewer: { login: string; csrfToken: string; orgAdmin: boolean } | null;
  notice?: string | undefined;
  body: Html;
}

/** A time the script turns into the viewer's zone; without script it reads as UTC. */
const time = (d: Date | string | null | undefined): Html => {
  if (!d) return html`<span class="muted">—</span>`;
  const iso = typeof d === "string" ? d : d.toISOString();
  return html`<time datetime="${iso}">${iso.replace("T", " ").slice(0, 19)} UTC</time>`;
};

export function duration(from: Date, to: Date): string {
  const s = Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

const stateBadge = (state: string): Html => html`<span class="badge state-${state}" data-state>${state.replaceAll("_", " ")}</span>`;

export function layout(p: Page): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · Bosun</title>
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/dashboard.js" defer></script>
</head>
<body>
<header class="top">
  <a class="brand" href="/runs">⚓ Bosun</a>
  ${p.viewer
    ? html`<nav><a href="/runs">Runs</a>${p.viewer.orgAdmin ? html` <a href="/policy">Policy</a>` : ""}</nav>
  <form class="who" method="post" action="/logout"><input type="hidden" name="csrf" value="${p.viewer.csrfToken}"><span>@${p.viewer.login}</span> <button type="submit" class="link">Sign out</button></form>`
    : ""}
</header>
<main>
${p.notice ? html`<p class="notice" role="status">${p.notice}</p>` : ""}
${p.body}
</main>
</body>
</html>`;
}

export function signInPage(o: { configured: boolean; error?: string | undefined; next: string }): Html {
  return html`<section class="signin">
  <h1>Bosun</h1>
  <p>Every run of a coding agent on your repositories: what it did, what it reached, which tokens it held.</p>
  ${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ""}
  ${o.configured
    ? html`<a class="button" href="/login?next=${encodeURIComponent(o.next)}">Sign in with GitHub</a>
  <p class="muted">You see the runs of repositories your GitHub account can read.</p>`
    : html`<p class="error">Sign-in is not set up: the operator sets <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code> (the GitHub App's) and registers <code>/login/callback</code> as its callback URL.</p>`}
</section>`;
}

export function notFoundPage(): Html {
  return html`<section><h1>Not found</h1><p>There is no such page, or your GitHub account cannot read its repository.</p><p><a href="/runs">All runs you can see</a></p></section>`;
}

export interface RunsFilter { repository: string; state: string; requester: string; age: string }
export const ages: Record<string, number | null> = { "1h": 3600, "24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, all: null };

export function runsPage(o: { runs: Run[]; filter: RunsFilter; repositories: string[]; now: Date }): Html {
  const f = o.filter;
  const option = (value: string, label: string, selected: string): Html => html`<option value="${value}"${selected === value ? html` selected` : ""}>${label}</option>`;
  return html`<h1>Runs</h1>
<form class="filters" method="get" action="/runs">
  <label>Repository <select name="repository">${option("", "all", f.repository)}${o.repositories.map((r) => option(r, r, f.repository))}</select></label>
  <label>State <select name="state">${option("", "any", f.state)}${option("active", "in progress", f.state)}${option("ended", "ended", f.state)}${runStates.map((s) => option(s, s.replaceAll("_", " "), f.state))}</select></label>
  <label>Requested by <input name="requester" value="${f.requester}" placeholder="login" size="12"></label>
  <label>Started within <select name="age">${Object.keys(ages).map((a) => option(a, a === "all" ? "any time" : a, f.age))}</select></label>
  <button type="submit">Filter</button>
</form>
${o.runs.length === 0
    ? html`<p class="muted">No runs match. Runs appear here when someone labels an issue in a repository you can read.</p>`
    : html`<div class="scroll"><table class="runs">
<thead><tr><th>Run</th><th>State</th><th>Outcome</th><th>Requested by</th><th>Started</th><th>Duration</th><th>Pull request</th></tr></thead>
<tbody>
${o.runs.map((r) => html`<tr>
  <td><a href="/runs/${r.id}">${r.owner}/${r.repo}#${r.issueNumber}</a><div class="muted small">${r.facts.issueTitle ?? ""}</div></td>
  <td>${stateBadge(r.state)}</td>
  <td class="outcome">${r.outcome ?? ""}</td>
  <td>@${r.requestedBy}</td>
  <td>${time(r.createdAt)}</td>
  <td>${duration(r.createdAt, isTerminal(r.state) ? r.stateChangedAt : o.now)}</td>
  <td>${r.prUrl ? html`<a href="${r.prUrl}">#${r.prNumber}</a>` : ""}</td>
</tr>`)}
</tbody></table></div>`}`;
}

export interface RunView {
  run: Run;
  summary: RunSummary;
  /** One page of the events: those after `after`; `next` is the seq to read on from when more follow. */
  lines: LogLine[];
  page: { after: number; total: number; next: number | null };
  diff: { text: string; truncated: boolean; files: { path: string; status: string }[] } | null;
  testOutput: string | null;
  issueUrl: string;
  mayAct: boolean;
  /** Retry is offered on the issue's latest run only, once it ended. */
  latestOnIssue: boolean;
  csrfToken: string;
  reduced: boolean;
  now: Date;
}

function diffBlock(text: string): Html {
  const cls = (l: string): string => (l.startsWith("+++") || l.startsWith("---") ? "meta" : l.startsWith("+") ? "add" : l.startsWith("-") ? "del" : l.startsWith("@@") ? "hunk" : l.startsWith("diff ") ? "meta" : "");
  return html`<pre class="diff">${text.split("\n").map((l) => html`<span class="${cls(l)}">${l}</span>\n`)}</pre>`;
}

export function runPage(v: RunView): Html {
  const { run, summary: s } = v;
  const active = !isTerminal(run.state);
  const title = run.facts.issueTitle ?? "";
  return html`<article class="run" data-run="${run.id}" data-active="${active ? "true" : "false"}" data-after="${v.lines.at(-1)?.seq ?? 0}">
<p class="crumbs"><a href="/runs">Runs</a> / <a href="/runs?repository=${encodeURIComponent(`${run.owner}/${run.repo}`)}">${run.owner}/${run.repo}</a></p>
<h1><a href="${v.issueUrl}">${run.owner}/${run.repo}#${run.issueNumber}</a> ${title}</h1>
<dl class="facts">
  <div><dt>State</dt><dd>${stateBadge(run.state)}</dd></div>
  <div><dt>Outcome</dt><dd data-outcome>${run.outcome ?? "—"}</dd></div>
  <div><dt>Mode</dt><dd>${run.mode === "plan" ? "plan (read-only)" : "pull request"}</dd></div>
  <div><dt>Requested by</dt><dd>@${run.requestedBy}</dd></div>
  <div><dt>Started</dt><dd>${time(run.createdAt)}</dd></div>
  <div><dt>Duration</dt><dd>${duration(run.createdAt, active ? v.now : run.stateChangedAt)}${active ? " so far" : ""}</dd></div>
  <div><dt>Attempts</dt><dd>${run.attempt}</dd></div>
  <div><dt>Pull request</dt><dd>${run.prUrl ? html`<a href="${run.prUrl}">#${run.prNumber}</a>${s.pull_request?.draft ? " (draft)" : ""}` : "—"}</dd></div>
  <div><dt>Run id</dt><dd><code>${run.id}</code></dd></div>
</dl>
${v.mayAct
    ? html`<div class="actions">
  ${active ? html`<form method="post" action="/runs/${run.id}/cancel"><input type="hidden" name="csrf" value="${v.csrfToken}"><button type="submit" class="danger">Cancel run</button></form>` : ""}
  ${!active && v.latestOnIssue ? html`<form method="post" action="/runs/${run.id}/retry"><input type="hidden" name="csrf" value="${v.csrfToken}"><button type="submit">Retry</button></form>` : ""}
</div>`
    : ""}
<p class="exports"><a href="/api/runs/${run.id}/transcript.jsonl">Transcript (JSONL)</a> · <a href="/api/runs/${run.id}/summary">Summary (JSON)</a></p>

<section><h2>States</h2>
<ol class="states">${s.states.map((x) => html`<li>${stateBadge(x.to)} ${time(x.at)}</li>`)}</ol>
</section>

<section><h2>${active ? "Live log" : "Events"}</h2>
${v.reduced ? html`<p class="muted">The events were reduced to the summary below on ${run.facts.transcriptReducedAt ?? ""} (the org's retention policy).</p>` : ""}
<p class="muted small" id="live-status">${active ? "Following the run as it works…" : v.page.total > v.lines.length ? `${v.page.total} events; these are ${v.lines.length} of them` : `${v.page.total} events`}</p>
<ol class="log" id="log">${v.lines.map((l) => html`<li data-seq="${l.seq}" class="kind-${l.kind}${l.agent ? " agent" : ""}">${time(l.at)} <span class="kind">${l.label}</span> <span class="text">${l.text}</span></li>`)}</ol>
${!active && (v.page.after > 0 || v.page.next !== null) ? html`<p class="pages">${v.page.after > 0 ? html`<a href="/runs/${run.id}">First events</a>` : ""}${v.page.after > 0 && v.page.next !== null ? " · " : ""}${v.page.next !== null ? html`<a href="/runs/${run.id}?after=${v.page.next}">Next events</a>` : ""}</p>` : ""}
</section>

<section><h2>Diff</h2>
${v.diff
    ? html`<ul class="files">${v.diff.files.map((f) => html`<li><span class="badge">${f.status}</span> <code>${f.path}</code></li>`)}</ul>${diffBlock(v.diff.text)}${v.diff.truncated ? html`<p class="muted">${run.prUrl ? "The diff is longer than the transcript keeps; the pull request has all of it." : "The diff is longer than the transcript keeps (200,000 characters), and nothing of it is on GitHub yet: what is not shown here is not shown anywhere before it is pushed."}</p>` : ""}`
    : html`<p class="muted">No diff yet.</p>`}
</section>

<section><h2>Tests</h2>
${s.tests.length
    ? html`<div class="scroll"><table><thead><tr><th>Command</th><th>Result</th><th>Commit</th><th>At</th></tr></thead><tbody>
${s.tests.map((t) => html`<tr><td><code>${t.command}</code></td><td>${t.timed_out ? "timed out" : t.exit_code === 0 ? html`<span class="ok">passed</span>` : html`<span class="bad">failed (exit ${t.exit_code ?? "?"})</span>`}</td><td><code>${t.commit.slice(0, 7)}</code></td><td>${time(t.at)}</td></tr>`)}
</tbody></table></div>${v.testOutput ? html`<details><summary>Output (last lines)</summary><pre>${v.testOutput}</pre></details>` : ""}`
    : html`<p class="muted">No tests ran yet.</p>`}
</section>

<section><h2>Network</h2>
${s.network.length
    ? html`<div class="scroll"><table class="network"><thead><tr><th>Phase</th><th>Destination</th><th>Decision</th></tr></thead><tbody>
${s.network.flatMap((n) => [...n.reached.map((h) => html`<tr><td>${n.phase}</td><td><code>${h}</code></td><td><span class="ok">reached</span></td></tr>`), ...n.refused.map((h) => html`<tr><td>${n.phase}</td><td><code>${h}</code></td><td><span class="bad">refused</span></td></tr>`)])}
</tbody></table></div>`
    : html`<p class="muted">No connection attempts through the egress proxy.</p>`}
${s.installs.length ? html`<h3>Dependency installs</h3><ul>${s.installs.map((i) => html`<li>${i.phase}: ${i.ecosystem} <code>${i.name}${i.version ? `@${i.version}` : ""}</code></li>`)}</ul>` : ""}
</section>

<section><h2>Tokens</h2>
${s.tokens.length
    ? html`<div class="scroll"><table class="tokens"><thead><tr><th>Purpose</th><th>Repositories</th><th>Permissions</th><th>Minted</th><th>Expires</th><th>Revoked</th><th>Lived</th></tr></thead><tbody>
${s.tokens.map((t) => html`<tr><td>${t.purpose}</td><td>${t.repositories.join(", ")}</td><td>${Object.entries(t.permissions).map(([k, l]) => html`<code>${k}:${l}</code> `)}</td><td>${time(t.minted_at)}</td><td>${time(t.expires_at)}</td><td>${t.revoked_at ? time(t.revoked_at) : html`<span class="muted">not yet</span>`}</td><td>${t.lived_seconds === null ? "" : `${t.lived_seconds}s`}</td></tr>`)}
</tbody></table></div>`
    : html`<p class="muted">No tokens yet.</p>`}
</section>

<section><h2>Pull request and reviews</h2>
${s.pull_request ? html`<p><a href="${s.pull_request.url}">#${s.pull_request.number}</a> from <code>${s.pull_request.branch ?? ""}</code>${s.pull_request.draft ? " (draft)" : ""}</p>` : html`<p class="muted">No pull request.</p>`}
${s.reviews.length ? html`<ul>${s.reviews.map((r) => html`<li>${time(r.at)} ${r.decision ?? ""} by ${r.who ? `@${r.who}` : "someone"}</li>`)}</ul>` : ""}
${s.policy.refusals.length || s.policy.adjustments.length
    ? html`<h3>Policy</h3><ul>${s.policy.refusals.map((p) => html`<li>refused by <code>${p.rule}</code>${p.reason ? `: ${p.reason}` : ""}</li>`)}${s.policy.adjustments.map((p) => html`<li>${p.reason ?? `${p.key} adjusted by ${p.rule}`}</li>`)}</ul>`
    : ""}
${s.errors.length ? html`<h3>Errors</h3><ul>${s.errors.map((e) => html`<li>${time(e.at)} ${e.message}</li>`)}</ul>` : ""}
</section>
</article>`;
}

export function policyPage(o: { orgs: { org: string; source: string; repositories: { name: string; description: PolicyDescription }[] }[] }): Html {
  return html`<h1>Effective policy</h1>
<p class="muted">For organizations you administer: the settings each repository's runs work under, and where each came from.</p>
${o.orgs.map((org) => html`<section><h2>${org.org}</h2><p class="muted">Org policy: ${org.source}</p>
${org.repositories.map((r) => html`<details class="policy"><summary><strong>${org.org}/${r.name}</strong>${r.description.refusal ? html` <span class="bad">no run starts</span>` : ""}${r.description.repoProblems ? html` <span class="bad">.github/bosun.yml not valid</span>` : ""}</summary>
${r.description.orgProblems ? html`<pre>${describeProblems(r.description.orgProblems)}</pre>` : ""}
${r.description.repoProblems ? html`<pre>${describeProblems(r.description.repoProblems)}</pre>` : ""}
${r.description.refusal ? html`<p class="bad">${r.description.refusal.message}</p>` : ""}
<div class="scroll"><table><thead><tr><th>Setting</th><th>Value</th><th>From</th></tr></thead><tbody>
${policyRows(r.description).map((row) => html`<tr><td>${row.setting}</td><td><code>${row.value.replaceAll("`", "")}</code></td><td>${row.from}</td></tr>`)}
</tbody></table></div>
${r.description.resolved?.adjustments.length ? html`<ul>${r.description.resolved.adjustments.map((a) => html`<li>${a.message}</li>`)}</ul>` : ""}
</details>`)}
</section>`)}`;
}
