// What the three wire protocols share: the server-side answer a turn turns into, ids in each
// provider's style, SSE framing and the splitting of text and tool arguments into stream pieces.
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";

/** One model answer, before it is put in a provider's shape. */
export interface Reply {
  /** Assistant text; null or "" when the model only calls tools. */
  text: string | null;
  calls: { name: string; input: Record<string, unknown> }[];
  usage: { input_tokens: number; output_tokens: number };
}

/** What each protocol module reads out of a request body (the rest of `ModelRequest` is added by the server). */
export interface ParsedRequest {
  model: string;
  stream: boolean;
  lastUserText: string;
  toolResults: { id: string; content: string }[];
  toolNames: string[];
}

/** A request the provider would reject: answered 400 in its shape and recorded as a problem. */
export class BadRequest extends Error {}

/** Called ids are remembered per turn so the Responses API's flat item list can be split into turns. */
export type CallTurnLookup = (callId: string) => number | undefined;

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A random id with a provider prefix, e.g. `call_…`, `toolu_01…`, `resp_…`. */
export function makeId(prefix: string, length = 24): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A field that should be a string (an id, say), or "" when it is missing or not one. */
export const str = (v: unknown): string => (typeof v === "string" ? v : "");

/**
 * The text of a message `content`: a string, or a list of parts of which the textual ones
 * (`text`, `input_text`, `output_text`) are joined by newlines. Images and the like are skipped.
 */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part === "string") texts.push(part);
    else if (isRecord(part) && typeof part.text === "string" && (part.type === undefined || ["text", "input_text", "output_text"].includes(str(part.type)))) texts.push(part.text);
  }
  return texts.join("\n");
}

/**
 * Splits a string into about `n` pieces on code point boundaries (never inside a surrogate pair),
 * as a real stream splits tool arguments at arbitrary places. Empty input gives no pieces.
 */
export function splitPieces(s: string, n = 4): string[] {
  const chars = Array.from(s);
  if (chars.length === 0) return [];
  const size = Math.max(1, Math.ceil(chars.length / n));
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}

/** Splits text after whitespace, so deltas look like the word-sized tokens a model streams. */
export function splitWords(s: string): string[] {
  return s === "" ? [] : s.split(/(?<=\s)/);
}

/** Rough token count (4 characters a token), for usage numbers when a turn gives none. */
export const estimateTokens = (s: string): number => Math.max(1, Math.ceil(s.length / 4));

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export const sseHeaders = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" };

/** One SSE event with an `event:` line (Responses and Messages APIs name every event). */
export function writeNamedEvent(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** One SSE event with only a `data:` line (Chat Completions sends no event names). */
export function writeDataEvent(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}
