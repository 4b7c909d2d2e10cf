// Who owns the files a run changed, from the base branch's CODEOWNERS (read on Bosun's side
// from the clone, never from the agent's copy).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CODEOWNERS_PATHS, matchFile, parse } from "codeowners-utils";

export async function ownersOfFiles(checkoutDir: string, files: string[]): Promise<{ users: string[]; teams: string[] }> {
  let text: string | null = null;
  for (const p of CODEOWNERS_PATHS) {
    text = await readFile(join(checkoutDir, p), "utf8").catch(() => null);
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
