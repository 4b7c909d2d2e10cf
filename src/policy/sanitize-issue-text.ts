// Issue text can carry instructions a reader never sees: HTML comments, zero-width and
// bidirectional control characters, Unicode tag characters. The agent gets the text without them.

// Soft hyphen, Mongolian vowel separator, zero-width and bidi controls, invisible operators,
// deprecated format characters, variation selectors (which can smuggle bytes), Hangul fillers,
// the combining grapheme joiner, the Arabic letter mark, BOM, and tag characters.
// eslint-disable-next-line no-misleading-character-class -- these combining characters are listed to be removed
const hidden = /[\u00AD\u034F\u061C\u115F\u1160\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0]|[\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}]/gu;

// A link reference definition renders as nothing; `[//]: # (text)` is the common way to hide text.
const referenceDefinition = /^ {0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$/gm;

/**
 * For a person about to approve text or a change: every hidden character shown as `⟨U+202E⟩`
 * (a bidi override can make code read differently from what it does), nothing removed.
 */
export function revealHidden(text: string): string {
  return text.replace(hidden, (c) => `⟨U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
}

export function sanitizeIssueText(text: string | null | undefined): string {
  if (!text) return "";
  return text
    .replace(/<!--[\s\S]*?(-->|$)/g, "")
    .replace(referenceDefinition, "")
    .replace(hidden, "")
    .replace(/\r\n/g, "\n");
}
