// The setup pages: plain HTML, every value escaped, no script. The manifest goes to GitHub in a
// hidden form field, as GitHub's docs show.
import type { AppManifest } from "./manifest.ts";

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · Bosun</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#1f2328}code{background:#f6f8fa;padding:0 .2em}button{font-size:1rem;padding:.5rem 1rem}table{border-collapse:collapse}td,th{text-align:left;padding:.1rem .8rem .1rem 0}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

export function setupPage(o: { manifest: AppManifest; action: string; org: string | null; githubUrl: string; credentialsFile: string }): string {
  const m = o.manifest;
  const permissions = Object.entries(m.default_permissions ?? {}).map(([k, v]) => `<tr><td><code>${esc(k)}</code></td><td>${esc(v)}</td></tr>`).join("\n");
  const owner = o.org
    ? `the organization <strong>${esc(o.org)}</strong> (you must be one of its owners, or a GitHub App manager there)`
    : "the account you are signed in to GitHub with (set <code>GITHUB_ORG</code> and restart to register it for an organization instead)";
  return page("Set up Bosun", `<h1>⚓ Set up Bosun</h1>
<p>Bosun has no GitHub App yet. This registers one on <a href="${esc(o.githubUrl)}">${esc(o.githubUrl)}</a>, owned by ${owner}, from Bosun's manifest (<code>app.yml</code>):</p>
<table>
<tr><th>webhook URL</th><td><code>${esc(m.hook_attributes.url)}</code></td></tr>
<tr><th>sign-in callback URL</th><td><code>${esc(m.callback_urls.join(", "))}</code></td></tr>
<tr><th>events</th><td>${(m.default_events ?? []).map((e) => `<code>${esc(e)}</code>`).join(", ")}</td></tr>
</table>
<h2>Permissions</h2>
<table>
${permissions}
</table>
<p>GitHub asks you to name the app (names are unique on GitHub) and to confirm. It then sends you back here; Bosun saves the app's credentials to <code>${esc(o.credentialsFile)}</code>, readable by Bosun's user alone, starts, and takes you to the page where you install the app on your repositories.</p>
<form method="post" action="${esc(o.action)}">
<input type="hidden" name="manifest" value="${esc(JSON.stringify(m))}">
<button type="submit">Register the GitHub App on GitHub</button>
</form>`);
}

export function callbackPage(installUrl: string): string {
  return page("Bosun is set up", `<h1>Bosun is set up</h1>
<p>The GitHub App is registered and its credentials are saved. Next, <a href="${esc(installUrl)}">install it on the repositories agents may work on</a>.</p>`);
}

export function problemPage(title: string, text: string, again: string | null): string {
  return page(title, `<h1>${esc(title)}</h1>
<p>${esc(text)}</p>${again ? `\n<p><a href="${esc(again)}">Start again</a></p>` : ""}`);
}
