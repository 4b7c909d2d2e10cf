// Task-scoped identity: every token Bosun uses is minted for one repository with the least
// permissions its purpose needs, recorded in the transcript (never the value), and revoked.
import type { Probot } from "probot";
import type { ProbotOctokit } from "probot";
import { GitHubOctokit } from "./octokit.ts";
import type { Logger } from "pino";
import type { Redactor } from "../audit/redactor.ts";
import type { Transcript } from "../audit/transcript.ts";

export type GitHubClient = InstanceType<typeof ProbotOctokit>;

/** What each purpose may do. The agent container never sees any of these. */
export const tokenPurposes = {
  /** Read the issue, its comments, the repository and its .github/bosun.yml; clone. */
  fetch: { contents: "read", issues: "read", metadata: "read" },
  /** Keep the progress comment current, react, post a plan or a refusal. */
  report: { issues: "write", metadata: "read" },
  /** Push the branch, open the pull request, post check runs, read branch protection. */
  publish: { contents: "write", pull_requests: "write", checks: "write", administration: "read", metadata: "read" },
  /** The same, for a change under `.github/workflows/`: GitHub refuses such a push without `workflows`. */
  publishWorkflows: { contents: "write", workflows: "write", pull_requests: "write", checks: "write", administration: "read", metadata: "read" },
  /** Team membership for who may start work (an org permission; the token is still scoped to the one repository). */
  membership: { members: "read", metadata: "read" },
  /** A follow-up's review comments (read-only), for the agent's task. */
  readReviews: { pull_requests: "read", metadata: "read" },
  /** The merge gate after a review or a push: both check runs, the draft state, branch protection. */
  gate: { checks: "write", pull_requests: "write", administration: "read", metadata: "read" },
} as const satisfies Record<string, Record<string, "read" | "write">>;
export type TokenPurpose = keyof typeof tokenPurposes;

export interface ScopedToken {
  purpose: TokenPurpose;
  token: string;
  expiresAt: Date;
  octokit: GitHubClient;
}

export interface TokenTarget {
  installationId: number;
  repoId: number;
  repoFullName: string;
}

/** Re-mint a little before GitHub's expiry so a slow call never carries a dead token. */
const renewMarginMs = 5 * 60 * 1000;

export class TokenBroker {
  readonly #app: Probot;
  readonly #apiUrl: string;
  readonly #log: Logger;
  readonly #target: TokenTarget;
  readonly #transcript: Transcript | null;
  readonly #redactor: Redactor;
  readonly #live = new Map<TokenPurpose, ScopedToken>();

  constructor(o: { app: Probot; apiUrl: string; log: Logger; target: TokenTarget; transcript: Transcript | null; redactor: Redactor }) {
    this.#app = o.app;
    this.#apiUrl = o.apiUrl;
    this.#log = o.log;
    this.#target = o.target;
    this.#transcript = o.transcript;
    this.#redactor = o.redactor;
  }

  /** A live token for the purpose, minting (or re-minting near expiry) when needed. */
  async get(purpose: TokenPurpose): Promise<ScopedToken> {
    const live = this.#live.get(purpose);
    if (live && live.expiresAt.getTime() - Date.now() > renewMarginMs) return live;
    if (live) await this.revoke(purpose);
    const appOctokit = await this.#app.auth();
    const permissions = tokenPurposes[purpose];
    const res = await appOctokit.rest.apps.createInstallationAccessToken({
      installation_id: this.#target.installationId,
      repository_ids: [this.#target.repoId],
      permissions,
    });
    this.#redactor.add(res.data.token);
    const scoped: ScopedToken = {
      purpose,
      token: res.data.token,
      expiresAt: new Date(res.data.expires_at),
      octokit: new (GitHubOctokit())({ auth: { token: res.data.token }, baseUrl: this.#apiUrl, log: this.#log.child({ name: "octokit", purpose }) }),
    };
    this.#live.set(purpose, scoped);
    await this.#transcript?.append("token_minted", {
      purpose,
      repositories: [this.#target.repoFullName],
      permissions,
      expires_at: res.data.expires_at,
    });
    return scoped;
  }

  async revoke(purpose: TokenPurpose): Promise<void> {
    const live = this.#live.get(purpose);
    if (!live) return;
    this.#live.delete(purpose);
    try {
      await live.octokit.rest.apps.revokeInstallationAccessToken();
      await this.#transcript?.append("token_revoked", { purpose, repositories: [this.#target.repoFullName] });
    } catch (e) {
      // An expired token cannot be revoked and needs no revoking; anything else is worth a log line.
      this.#log.warn({ err: e, purpose }, "could not revoke an installation token");
      await this.#transcript?.append("token_revoked", { purpose, repositories: [this.#target.repoFullName], note: "revocation failed; the token expires by itself", error: String(e) });
    }
  }

  async revokeAll(): Promise<void> {
    for (const purpose of [...this.#live.keys()]) await this.revoke(purpose);
  }
}
