// The browser's part in the tests' web flows: read a page's form (its action and the values its
// fields hold) and send it as a browser would, with the page's address as the base.
const unescapeHtml = (s: string): string => s.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n)))
  .replace(/&quot;/g, "\"").replace(/&#x27;/g, "'").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");

export interface HtmlForm {
  action: string;
  fields: Record<string, string>;
}

/** The first POST form of a page, its action resolved against the page's URL. */
export function formOf(html: string, pageUrl: string): HtmlForm {
  const form = /<form\b[^>]*\bmethod="post"[^>]*\baction="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error(`no POST form on ${pageUrl}:\n${html.slice(0, 2000)}`);
  const fields: Record<string, string> = {};
  for (const input of (form[2] ?? "").matchAll(/<input\b([^>]*)>/gi)) {
    const attrs = input[1] ?? "";
    const name = /\bname="([^"]*)"/.exec(attrs)?.[1];
    if (name) fields[unescapeHtml(name)] = unescapeHtml(/\bvalue="([^"]*)"/.exec(attrs)?.[1] ?? "");
  }
  return { action: new URL(unescapeHtml(form[1] ?? ""), pageUrl).toString(), fields };
}

/** Sends a form (fields overridden by `set`) without following the answer's redirect. */
export function submitForm(form: HtmlForm, set: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(form.action, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ ...form.fields, ...set }),
  });
}
