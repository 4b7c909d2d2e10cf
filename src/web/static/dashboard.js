// Bosun's dashboard: times in the viewer's zone, and a running run's events as they happen.
// Text only goes in through textContent: nothing from a run is ever parsed as HTML.
"use strict";

function localTimes(root) {
  for (const t of root.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (Number.isNaN(d.getTime())) continue;
    t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
    t.title = d.toISOString();
  }
}

function follow(article) {
  const log = document.getElementById("log");
  const status = document.getElementById("live-status");
  const source = new EventSource(`/runs/${article.dataset.run}/live?after=${encodeURIComponent(article.dataset.after || "0")}`);
  source.addEventListener("line", (m) => {
    const line = JSON.parse(m.data);
    article.dataset.after = String(line.seq);
    if (log.querySelector(`li[data-seq="${line.seq}"]`)) return;
    const li = document.createElement("li");
    li.dataset.seq = String(line.seq);
    li.className = `kind-${line.kind}${line.agent ? " agent" : ""} fresh`;
    const time = document.createElement("time");
    time.setAttribute("datetime", line.at);
    const kind = document.createElement("span");
    kind.className = "kind";
    kind.textContent = line.label;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = line.text;
    li.append(time, " ", kind, " ", text);
    localTimes(li);
    log.append(li);
    const nearBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 200;
    if (nearBottom) li.scrollIntoView({ block: "nearest" });
  });
  source.addEventListener("state", (m) => {
    const s = JSON.parse(m.data);
    for (const b of document.querySelectorAll(".facts [data-state]")) {
      b.textContent = s.state.replaceAll("_", " ");
      b.className = `badge state-${s.state}`;
    }
    if (s.outcome) for (const o of document.querySelectorAll("[data-outcome]")) o.textContent = s.outcome;
  });
  source.addEventListener("end", () => {
    source.close();
    status.textContent = "The run ended. Loading its results…";
    // The diff, tests and tokens are rendered by the server: show the finished run.
    setTimeout(() => window.location.reload(), 800);
  });
  source.onerror = () => {
    status.textContent = "Lost the connection; reconnecting…";
    // The browser retries by itself unless the server refused (a replica stopping): then we do.
    if (source.readyState === EventSource.CLOSED) setTimeout(() => follow(article), 3000);
  };
  source.onopen = () => {
    status.textContent = "Following the run as it works…";
  };
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  const article = document.querySelector("article.run");
  if (article && article.dataset.active === "true") follow(article);
});
