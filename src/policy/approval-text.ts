// The issue text a maintainer approves with `/bosun approve` is the text the waiting comment
// showed them, named by a hash printed beside it: an edit made while they read it is not approved.
import { createHash } from "node:crypto";

export function approvalHash(text: { title: string; body: string | null }): string {
  return createHash("sha256").update(JSON.stringify([text.title, text.body ?? ""])).digest("hex").slice(0, 12);
}
