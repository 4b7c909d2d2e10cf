// Text an agent wrote, made safe to post as Bosun: it must not ping people, close issues on
// merge, or break out of the block it is quoted in.

/** A fenced code block whose fence is longer than any run of backticks inside. */
export function fence(text: string, info = ""): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = "`".repeat(longest + 1);
  return `${f}${info}\n${text.replace(/\n+$/, "")}\n${f}`;
}

// GitHub's closing keywords, before `#12`, `owner/repo#12` or a full issue or pull request URL
// (docs: "Linking a pull request to an issue using a keyword").
const closing = /\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(\s*:?\s*)((?:[\w.-]+\/[\w.-]+)?#|https?:\/\/[^\s/]+\/[\w.-]+\/[\w.-]+\/(?:issues|pull)\/)(\d+)/gi;

/**
 * Keeps the words but stops GitHub acting on them: `@name` does not notify, and "Fixes #12" (or an
 * issue's URL) does not close issue 12 when the pull request merges. Also for titles and commit
 * messages: a closing keyword in a commit that reaches the default branch closes the issue too.
 */
export function neutralize(text: string): string {
  return text
    .replace(/(^|[^\w`])@([A-Za-z0-9][\w-]*(?:\/[\w.-]+)?)/g, "$1@\u200b$2")
    .replace(closing, (_m, verb: string, space: string, ref: string, n: string) => `${verb}${space}${ref}\u200b${n}`);
}
