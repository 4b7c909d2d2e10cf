// Starts the offline GitHub for a test with every REST response and webhook payload checked
// against GitHub's published descriptions; a response that does not validate fails the test.
import assert from "node:assert/strict";
import type { TestContext } from "node:test";
import { OfflineGitHub, type StartOptions } from "../offline-github/server.ts";
import { validateRestResponse, validateWebhook, type SchemaProblem } from "../offline-github/fidelity/validate.ts";

export interface CheckedGitHub {
  gh: OfflineGitHub;
  problems: SchemaProblem[];
  /** `METHOD /template STATUS` of every response seen, and `event.action` of every webhook. */
  seen: Set<string>;
  /** Stops the emulator and fails when any response or webhook did not match GitHub's schemas. */
  close(): Promise<void>;
}

export async function startCheckedGitHub(t: TestContext | null, options: StartOptions = {}): Promise<CheckedGitHub> {
  const problems: SchemaProblem[] = [];
  const seen = new Set<string>();
  const gh = await OfflineGitHub.start({
    ...options,
    onResponse: (r) => {
      seen.add(`${r.method} ${r.route} ${r.status}`);
      // GraphQL answers are shaped by graphql-js from GitHub's schema and the query itself.
      if (r.route !== "/graphql") problems.push(...validateRestResponse(r));
      options.onResponse?.(r);
    },
    onWebhook: (event, payload) => {
      seen.add(`${event}.${String(payload["action"])}`);
      problems.push(...validateWebhook(event, payload));
      options.onWebhook?.(event, payload);
    },
  });
  const close = async (): Promise<void> => {
    await gh.close();
    assert.deepEqual(problems, [], "every response and webhook of the offline GitHub matches GitHub's published schemas");
  };
  t?.after(close);
  return { gh, problems, seen, close };
}
