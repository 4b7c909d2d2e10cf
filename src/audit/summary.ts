// A run's summary, from its row and its transcript: what an auditor asks first. States with their
// times, every token with its permissions and how long it lived, hosts reached and refused,
// dependency installs, tests, the pull request and the reviews.
import type { Run } from "../runs/run.ts";
import type { Pool } from "pg";
import { transcriptEvents, type EventKind, type TranscriptEvent } from "./transcript.ts";

export interface RunSummary {
  run: { id: string; repository: string; issue: number; mode: string; requested_by: string; state: string; outcome: string | null; created_at: string; attempts: number };
  states: { from: string | null; to: string; at: string }[];
  tokens: { purpose: string; repositories: string[]; permissions: Record<string, string>; minted_at: string; expires_at: string; revoked_at: string | null; lived_seconds: number | null }[];
  network: { phase: string; reached: string[]; refused: string[] }[];
  installs: { phase: string; ecosystem: string; name: string; version: string | null }[];
  tests: { command: string; exit_code: number | null; timed_out: boolean; commit: string; at: string }[];
  pull_request: { number: number; url: string; draft: boolean; branch: string | null; head: string | null } | null;
  reviews: { at: string; who: string | null; decision: string | null }[];
  policy: { refusals: { rule: string; reason: string | null }[]; adjustments: { key: string; rule: string; reason: string | null }[] };
  errors: { at: string; message: string }[];
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);

/** The kinds a summary reads: Bosun's own accounts (an agent prints none of these). */
const summaryKinds: readonly EventKind[] = ["state", "token_minted", "token_revoked", "network", "dependency_install", "test", "pull_request", "review", "policy_decision", "error"];

export function summarizeRun(run: Run, events: Iterable<TranscriptEvent>): RunSummary {
  const s = summarizer(run);
  for (const e of events) s.add(e);
  return s.done();
}

/** The summary from the database, a page of the kinds it reads at a time. */
export async function summarizeStoredRun(pool: Pool, run: Run, o: { kinds?: readonly EventKind[] } = {}): Promise<RunSummary> {
  const s = summarizer(run);
  for await (const e of transcriptEvents(pool, run.id, { kinds: o.kinds ?? summaryKinds })) s.add(e);
  return s.done();
}

function summarizer(run: Run): { add: (e: TranscriptEvent) => void; done: () => RunSummary } {
  const tokens: RunSummary["tokens"] = [];
  const network = new Map<string, { reached: Set<string>; refused: Set<string> }>();
  const s: RunSummary = {
    run: { id: run.id, repository: `${run.owner}/${run.repo}`, issue: run.issueNumber, mode: run.mode, requested_by: run.requestedBy, state: run.state, outcome: run.outcome, created_at: run.createdAt.toISOString(), attempts: run.attempt },
    states: [{ from: null, to: "queued", at: run.createdAt.toISOString() }],
    tokens, network: [], installs: [], tests: [], pull_request: null, reviews: [],
    policy: { refusals: [], adjustments: [] },
    errors: [],
  };
  const add = (e: TranscriptEvent): void => {
    const p = e.payload;
    const at = e.at.toISOString();
    switch (e.kind) {
      case "state":
        s.states.push({ from: str(p["from"]), to: String(p["to"]), at });
        break;
      case "token_minted":
        tokens.push({ purpose: String(p["purpose"]), repositories: (p["repositories"] as string[] | undefined) ?? [], permissions: (p["permissions"] as Record<string, string> | undefined) ?? {}, minted_at: at, expires_at: String(p["expires_at"]), revoked_at: null, lived_seconds: null });
        break;
      case "token_revoked": {
        const open = [...tokens].reverse().find((t) => t.purpose === p["purpose"] && t.revoked_at === null);
        if (open) {
          open.revoked_at = at;
          open.lived_seconds = Math.round((e.at.getTime() - Date.parse(open.minted_at)) / 100) / 10;
        }
        break;
      }
      case "network": {
        const phase = str(p["phase"]) ?? "?";
        const entry = network.get(phase) ?? { reached: new Set<string>(), refused: new Set<string>() };
        network.set(phase, entry);
        (p["allowed"] === true ? entry.reached : entry.refused).add(`${String(p["host"])}:${String(p["port"])}`);
        break;
      }
      case "dependency_install":
        s.installs.push({ phase: String(p["phase"]), ecosystem: String(p["ecosystem"]), name: String(p["name"]), version: str(p["version"]) });
        break;
      case "test":
        s.tests.push({ command: String(p["command"]), exit_code: typeof p["exit_code"] === "number" ? p["exit_code"] : null, timed_out: p["timed_out"] === true, commit: String(p["commit"]), at });
        break;
      case "pull_request":
        s.pull_request = { number: Number(p["number"]), url: String(p["url"]), draft: p["draft"] === true, branch: run.branch, head: run.headSha };
        break;
      case "review":
        s.reviews.push({ at, who: str(p["reviewer"]) ?? str(p["author"]), decision: str(p["decision"]) ?? str(p["state"]) });
        break;
      case "policy_decision":
        if (p["decision"] === "refused") s.policy.refusals.push({ rule: String(p["rule"]), reason: str(p["reason"]) });
        if (p["decision"] === "adjusted") s.policy.adjustments.push({ key: String(p["key"]), rule: String(p["rule"]), reason: str(p["reason"]) });
        break;
      case "error":
        if (p["source"] !== "agent") s.errors.push({ at, message: String(p["message"]) });
        break;
      default:
        break;
    }
  };
  const done = (): RunSummary => {
    s.network = [...network].map(([phase, v]) => ({ phase, reached: [...v.reached].sort(), refused: [...v.refused].sort() }));
    return s;
  };
  return { add, done };
}
