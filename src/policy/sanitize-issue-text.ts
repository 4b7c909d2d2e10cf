// Issue text can carry instructions a reader never sees: HTML comments, zero-width and
// bidirectional control characters, Unicode tag characters. The agent gets the text without them.

const hidden = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]|[\u{E0000}-\u{E007F}]/gu;

export function sanitizeIssueText(text: string | null | undefined): string {
  if (!text) return "";
  return text
    .replace(/<!--[\s\S]*?(-->|$)/g, "")
    .replace(hidden, "")
    .replace(/\r\n/g, "\n");
}
