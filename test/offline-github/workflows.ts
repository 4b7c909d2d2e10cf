// Which GitHub Actions workflows GitHub would start, and with what, when code is pushed or a pull
// request changes. Nothing runs: each run GitHub would start is recorded on the world (and in the
// server's request log), naming the commit its workflow file was read from and whether the
// repository's secrets and a write token would reach it. That is what lets tests show that code
// an agent pushed never runs with the org's secrets before a person approved it.
//
// The rules, from GitHub's documentation:
// - Events that trigger workflows (push, pull_request, pull_request_target; default activity
//   types; GITHUB_SHA/GITHUB_REF per event):
//   https://docs.github.com/en/actions/reference/events-that-trigger-workflows
// - Filters (branches, branches-ignore, tags, paths, paths-ignore, types) and the filter pattern
//   cheat sheet: https://docs.github.com/en/actions/reference/workflow-syntax-for-github-actions#onpushpull_requestpull_request_targetpathspaths-ignore
// - Pushes with a GitHub App installation token or a personal access token start workflows; only
//   the repository's GITHUB_TOKEN does not, and the emulator has no GITHUB_TOKEN (nothing runs):
//   https://docs.github.com/en/actions/how-tos/write-workflows/choose-when-workflows-run/trigger-a-workflow#triggering-a-workflow-from-a-workflow
// - Secrets and GITHUB_TOKEN for pull requests: "With the exception of GITHUB_TOKEN, secrets are
//   not passed to the runner when a workflow is triggered from a forked repository", and the
//   GITHUB_TOKEN of a fork's pull_request run is read-only; a pull request from a branch of the
//   same repository (drafts too) gets both. pull_request_target runs the base's workflow with
//   secrets and a write token: https://docs.github.com/en/actions/security-for-github-actions/security-guides/using-secrets-in-github-actions
//   and https://docs.github.com/en/actions/security-for-github-actions/security-guides/automatic-token-authentication#permissions-for-the-github_token
// - Skipping runs: `[skip ci]` and its siblings in the head commit's message skip push and
//   pull_request runs (not pull_request_target):
//   https://docs.github.com/en/actions/managing-workflow-runs-and-deployments/managing-workflow-runs/skipping-workflow-runs
import { minimatch } from "minimatch";
import { parse as parseYaml } from "yaml";
import type { Issue, Repo, WorkflowRun } from "./model.ts";
import { fullName } from "./model.ts";
import type { World } from "./world.ts";

/** One workflow file: its triggers, or null when GitHub could not read it. */
interface WorkflowFile {
  path: string;
  /** event → its filters (null: the event is named without any). */
  on: Map<string, Record<string, unknown> | null> | null;
}

/** A ref a push moved: `before` null for a new ref, `after` null for a deleted one. */
export interface RefUpdate {
  ref: string;
  before: string | null;
  after: string | null;
}

const defaultPullRequestTypes = ["opened", "synchronize", "reopened"];
const skipMarkers = ["[skip ci]", "[ci skip]", "[no ci]", "[skip actions]", "[actions skip]"];
const zeroSha = "0".repeat(40);

/** The workflows in `.github/workflows` (top level only, `.yml`/`.yaml`, as GitHub reads them) at a commit. */
async function workflowsAt(w: World, r: Repo, sha: string): Promise<WorkflowFile[]> {
  const dir = await w.git.entry(r.owner, r.name, sha, ".github/workflows");
  if (dir?.type !== "dir") return [];
  const out: WorkflowFile[] = [];
  for (const e of dir.entries.filter((x) => x.type === "file" && /\.ya?ml$/.test(x.name)).sort((a, b) => a.path.localeCompare(b.path))) {
    const text = await w.git.readFile(r.owner, r.name, sha, e.path);
    out.push({ path: e.path, on: text === null ? null : parseTriggers(text) });
  }
  return out;
}

/** `on:` as a string, a list or a map; null when the file is not a workflow GitHub could read. */
export function parseTriggers(text: string): Map<string, Record<string, unknown> | null> | null {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return null;
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return null;
  // YAML 1.2 (the `yaml` package's default, like GitHub's parser) reads `on` as a string key.
  const on = (doc as Record<string, unknown>)["on"];
  const m = new Map<string, Record<string, unknown> | null>();
  if (typeof on === "string") m.set(on, null);
  else if (Array.isArray(on) && on.every((e) => typeof e === "string")) for (const e of on) m.set(e, null);
  else if (on !== null && typeof on === "object" && !Array.isArray(on)) {
    for (const [k, v] of Object.entries(on as Record<string, unknown>)) {
      if (v === null || v === undefined) m.set(k, null);
      else if (typeof v === "object" && !Array.isArray(v)) m.set(k, v as Record<string, unknown>);
      else return null;
    }
  } else return null;
  return m;
}

function patterns(filters: Record<string, unknown> | null, key: string): string[] | null {
  const v = filters?.[key];
  if (v === undefined || v === null) return null;
  return (Array.isArray(v) ? v : [v]).map(String);
}

/**
 * Whether `name` matches a filter list, GitHub's way: patterns apply in order, and one starting
 * with `!` takes back what earlier ones matched. minimatch approximates GitHub's glob syntax
 * (`*` stops at `/`, `**` does not); GitHub's `?` and `+` (zero-or-one / one-or-more of the
 * preceding character) are read as minimatch's single-character `?` and a literal `+`.
 */
export function matchesFilter(name: string, list: string[]): boolean {
  let matched = false;
  for (const p of list) {
    if (p.startsWith("!")) { if (minimatch(name, p.slice(1), { dot: true, nonegate: true, nocomment: true })) matched = false; }
    else if (minimatch(name, p, { dot: true, nonegate: true, nocomment: true })) matched = true;
  }
  return matched;
}

/** `branches`/`branches-ignore` (or `tags`/`tags-ignore`) against a name. */
function refFilterAllows(filters: Record<string, unknown> | null, kind: "branches" | "tags", name: string): boolean {
  const only = patterns(filters, kind);
  const ignore = patterns(filters, `${kind}-ignore`);
  if (only) return matchesFilter(name, only);
  if (ignore) return !ignore.some((p) => minimatch(name, p, { dot: true, nonegate: true, nocomment: true }));
  return true;
}

/** `paths`/`paths-ignore` against the changed files: some file must be wanted, not every file ignored. */
function pathFilterAllows(filters: Record<string, unknown> | null, files: string[]): boolean {
  const only = patterns(filters, "paths");
  const ignore = patterns(filters, "paths-ignore");
  if (only) return files.some((f) => matchesFilter(f, only));
  if (ignore) return files.some((f) => !matchesFilter(f, ignore));
  return true;
}

async function skipRequested(w: World, r: Repo, sha: string): Promise<boolean> {
  const message = (await w.git.commitInfo(r.owner, r.name, sha))?.message.toLowerCase() ?? "";
  return skipMarkers.some((m) => message.includes(m));
}

function record(w: World, run: Omit<WorkflowRun, "id" | "at">): void {
  const full: WorkflowRun = { id: w.nextId(), ...run, at: w.now() };
  w.workflowRuns.push(full);
  w.onWorkflowRun?.(full);
}

/**
 * The push workflows GitHub would start for refs a push (git, a commit through the API, a merge)
 * moved, by `actor`. Deleting a ref starts nothing.
 */
export async function workflowsForPush(w: World, r: Repo, updates: RefUpdate[], actor: string): Promise<void> {
  // "Events will not be created for tags when more than three tags are pushed at once."
  const newTags = updates.filter((u) => u.ref.startsWith("refs/tags/") && u.before === null && u.after !== null).length;
  for (const u of updates) {
    if (u.after === null || u.after === zeroSha || u.before === u.after) continue;
    const tag = u.ref.startsWith("refs/tags/");
    if (!tag && !u.ref.startsWith("refs/heads/")) continue;
    if (tag && newTags > 3) continue;
    const name = u.ref.replace(/^refs\/(heads|tags)\//, "");
    const sha = u.after;
    if (await skipRequested(w, r, sha)) continue;
    const files = await workflowsAt(w, r, sha);
    if (files.length === 0) continue;
    let changed: string[] | null = null;
    const changedFiles = async (): Promise<string[]> => {
      if (changed) return changed;
      // A new branch is compared with where it left the default branch (all its files when it shares no history).
      let from = u.before;
      if (from === null) {
        const def = await w.git.resolve(r.owner, r.name, `refs/heads/${r.defaultBranch}`);
        from = def && def !== sha ? await w.git.mergeBase(r.owner, r.name, def, sha) : null;
      }
      changed = await w.git.diffNames(r.owner, r.name, from, sha);
      return changed;
    };
    for (const f of files) {
      const base = { repo: fullName(r), workflow: f.path, event: "push" as const, action: null, ref: u.ref, headSha: sha, workflowSha: sha, actor, pullNumber: null, fromFork: false };
      if (f.on === null) {
        record(w, { ...base, secrets: false, tokenPermissions: "read", failed: "invalid workflow file" });
        continue;
      }
      if (!f.on.has("push")) continue;
      const filters = f.on.get("push") ?? null;
      const hasBranchFilter = patterns(filters, "branches") !== null || patterns(filters, "branches-ignore") !== null;
      const hasTagFilter = patterns(filters, "tags") !== null || patterns(filters, "tags-ignore") !== null;
      // Only tag filters: no run for branches; only branch filters: no run for tags.
      if (tag ? hasBranchFilter && !hasTagFilter : hasTagFilter && !hasBranchFilter) continue;
      if (!refFilterAllows(filters, tag ? "tags" : "branches", name)) continue;
      // Path filters are not evaluated for pushes of tags.
      if (!tag && !pathFilterAllows(filters, await changedFiles())) continue;
      record(w, { ...base, secrets: true, tokenPermissions: "write" });
    }
  }
}

/**
 * The pull_request and pull_request_target workflows GitHub would start for a pull request event.
 * The head is always a branch of the same repository here (the emulator has no forks), so
 * pull_request runs get secrets and a write token, as GitHub gives them for same-repository pull
 * requests, drafts included; a fork's would get neither (see `fromFork`).
 */
export async function workflowsForPullRequest(w: World, r: Repo, i: Issue, action: string, actor: string): Promise<void> {
  const p = i.pull;
  if (!p) return;
  const head = p.frozenHeadSha ?? (await w.git.resolve(r.owner, r.name, `refs/heads/${p.head}`));
  const base = await w.git.resolve(r.owner, r.name, `refs/heads/${p.base}`);
  if (!head || !base) return;
  const fromFork = false;
  let changed: string[] | null = null;
  const changedFiles = async (): Promise<string[]> => (changed ??= await w.git.changedFiles(r.owner, r.name, base, head));
  const wants = async (filters: Record<string, unknown> | null): Promise<boolean> => {
    const types = patterns(filters, "types") ?? defaultPullRequestTypes;
    if (!types.includes(action)) return false;
    // Branch filters of pull request events name the base branch.
    if (!refFilterAllows(filters, "branches", p.base)) return false;
    return pathFilterAllows(filters, await changedFiles());
  };
  const common = { repo: fullName(r), actor, pullNumber: i.number, fromFork, action };

  // pull_request: the workflow of the test merge commit, that is, the head's workflow files.
  if (!(await skipRequested(w, r, head))) {
    for (const f of await workflowsAt(w, r, head)) {
      const run = { ...common, workflow: f.path, event: "pull_request" as const, ref: `refs/pull/${i.number}/merge`, headSha: head, workflowSha: head };
      if (f.on === null) {
        // Reported once, for the events the broken file itself would have been read for.
        if (defaultPullRequestTypes.includes(action)) record(w, { ...run, secrets: false, tokenPermissions: "read", failed: "invalid workflow file" });
        continue;
      }
      if (!f.on.has("pull_request") || !(await wants(f.on.get("pull_request") ?? null))) continue;
      record(w, { ...run, secrets: !fromFork, tokenPermissions: fromFork ? "read" : "write" });
    }
  }

  // pull_request_target: the base branch's workflow, in the base's context, with secrets.
  for (const f of await workflowsAt(w, r, base)) {
    if (f.on === null || !f.on.has("pull_request_target") || !(await wants(f.on.get("pull_request_target") ?? null))) continue;
    record(w, { ...common, workflow: f.path, event: "pull_request_target", ref: `refs/heads/${p.base}`, headSha: base, workflowSha: base, secrets: true, tokenPermissions: "write" });
  }
}
