// Who owns the files a run changed, from the base commit's CODEOWNERS, read out of git's objects
// on Bosun's side, never from the agent's copy.
import { matchFile, parse } from "codeowners-utils";
import { fileAtCommit } from "../github/git.ts";

/** Owners as the base commit's CODEOWNERS has them (GitHub reads the base branch's file too). */
export async function ownersOfFiles(checkoutDir: string, baseCommit: string, files: string[]): Promise<{ users: string[]; teams: string[] }> {
  let text: string | null = null;
  // GitHub's order: .github/, the root, docs/.
  for (const p of [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"]) {
    text = await fileAtCommit(checkoutDir, baseCommit, p);
    if (text !== null) break;
  }
  if (text === null) return { users: [], teams: [] };
  const entries = parse(text);
  const owners = new Set<string>();
  for (const f of files) for (const o of matchFile(f, entries)?.owners ?? []) owners.add(o);
  const users: string[] = [];
  const teams: string[] = [];
  for (const o of owners) {
    if (!o.startsWith("@")) continue; // e-mail owners cannot be requested as reviewers
    const name = o.slice(1);
    if (name.includes("/")) teams.push(name.split("/")[1] ?? name);
    else users.push(name);
  }
  return { users, teams };
}
