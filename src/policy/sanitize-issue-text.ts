// Issue text can carry instructions a reader never sees: HTML comments, zero-width and
// bidirectional control characters, Unicode tag characters. The agent gets the text without them.

// Every format character (Unicode category Cf: soft hyphen, zero-width and bidi controls, invisible
// operators, interlinear annotations, tag characters, …; a zero-width joiner goes too, so a family
// emoji shows as its people) and the invisible characters of other categories: the combining
// grapheme joiner, Hangul fillers, Mongolian free variation selectors, Khmer inherent vowels,
// variation selectors (which can smuggle bytes), and U+1D173–1D17A (musical formatting, also Cf).
// eslint-disable-next-line no-misleading-character-class -- these combining characters are listed to be removed
const hidden = /[\p{Cf}\u034F\u115F\u1160\u17B4\u17B5\u180B-\u180F\u3164\uFE00-\uFE0F\uFFA0\uFFF9-\uFFFB]|[\u{13430}-\u{1343F}\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}]/gu;

// A link reference definition renders as nothing; `[//]: # (text)` is the common way to hide text.
const referenceDefinition = /^ {0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$/gm;

/**
 * For a person about to approve text or a change: every hidden character shown as `⟨U+202E⟩`
 * (a bidi override can make code read differently from what it does), nothing removed.
 */
export function revealHidden(text: string): string {
  return text.replace(hidden, (c) => `⟨U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}⟩`);
}

// What GitHub renders but does not show: an image's alt text (`![alt](…)`, `<img alt="…">`) and a
// link's or element's title (`[x](url "title")`, `title="…"`), seen only on hover or when an
// image fails. A maintainer approving the issue never read them, so the agent does not get them.
const imageAlt = /!\[(?:[^[\]\\]|\\.|\[[^[\]]*\])*\]/g;
const linkTitle = /(\]\(\s*(?:<[^>\n]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*))\s+(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\((?:[^()\\]|\\.)*\))\s*\)/g;
const htmlTag = /<[a-zA-Z][^<>]*>/g;
const hiddenAttribute = /\s(?:alt|title)\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+)/gi;

export function sanitizeIssueText(text: string | null | undefined): string {
  if (!text) return "";
  return text
    .replace(/<!--[\s\S]*?(-->|$)/g, "")
    .replace(referenceDefinition, "")
    .replace(hidden, "")
    .replace(imageAlt, "![]")
    .replace(linkTitle, "$1)")
    .replace(htmlTag, (tag) => tag.replace(hiddenAttribute, ""))
    .replace(/\r\n/g, "\n");
}
