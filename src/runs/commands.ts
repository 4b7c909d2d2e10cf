// `/bosun …` commands: parsed in the webhook handler, stored, and carried out by the worker.

export const commandVerbs = ["approve", "retry", "cancel", "status", "policy"] as const;
export type CommandVerb = (typeof commandVerbs)[number] | "unknown";

/**
 * Not commands people type (a comment's unknown word is stored as `unknown`): a review or a push on
 * Bosun's pull request, recorded by the webhook handler for the merge gate to look at.
 */
export const gateEvents = ["gate:review", "gate:push"] as const;
export type GateEvent = (typeof gateEvents)[number];
export function isGateEvent(verb: string): verb is GateEvent {
  return (gateEvents as readonly string[]).includes(verb);
}

export interface ParsedCommand { verb: CommandVerb; args: string; raw: string }

/** The first line of a comment, when it starts with `/bosun`; null otherwise. */
export function parseCommand(body: string): ParsedCommand | null {
  const first = body.trimStart().split("\n")[0]?.trim() ?? "";
  const m = /^\/bosun(?:\s+(\S+))?(?:\s+(.*))?$/i.exec(first);
  if (!m) return null;
  const word = (m[1] ?? "").toLowerCase();
  const known = (commandVerbs as readonly string[]).includes(word);
  const verb = known ? (word as CommandVerb) : "unknown";
  // Anything else keeps all its words, and the lines after it: on Bosun's pull request they are
  // instructions for a follow-up; elsewhere they are quoted back as an unknown command.
  const args = known ? (m[2] ?? "").trim() : body.trimStart().replace(/^\/bosun/i, "").trim();
  return { verb, args, raw: first };
}

export const commandHelp = [
  "- `/bosun approve`: let the agent read this issue's text (needed when someone without write access wrote it); or, when Bosun holds the agent's change, push it (someone other than the requester; `/bosun approve <commit>` approves only that commit)",
  "- `/bosun retry`: start the run again after it failed or was cancelled",
  "- `/bosun cancel`: stop the run now",
  "- `/bosun status`: where the run is",
  "- `/bosun policy`: the settings in force for this repository, and where each comes from",
  "- `/bosun <instructions>` on Bosun's pull request: a follow-up run that makes the change on its branch",
].join("\n");
