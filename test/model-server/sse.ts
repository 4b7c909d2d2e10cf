// A small Server-Sent Events reader for tests, strict about the framing the providers use:
// events separated by a blank line, `event:` and `data:` fields, nothing else.

export interface SseEvent {
  event: string | null;
  data: string;
}

/** Parses a whole SSE body; throws on lines that are not `event:`/`data:` fields or comments. */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (block.trim() === "") continue;
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const m = /^(event|data): ?(.*)$/.exec(line);
      if (!m) throw new Error(`not an SSE field line: ${JSON.stringify(line)}`);
      if (m[1] === "event") event = m[2] ?? "";
      else data.push(m[2] ?? "");
    }
    events.push({ event, data: data.join("\n") });
  }
  return events;
}

/** Reads a streamed HTTP answer to its end and parses it. */
export async function readSse(res: Response): Promise<SseEvent[]> {
  return parseSse(await res.text());
}
