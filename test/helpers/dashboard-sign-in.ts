// Signing in to the dashboard over plain HTTP, as a browser would without script: Bosun's /login,
// the offline GitHub's authorize form, and back to Bosun's callback, each redirect read by hand.
import type { BosunWorld } from "./bosun-world.ts";
import { formOf, submitForm } from "./html-form.ts";

export interface HttpSignIn {
  /** The `Cookie` header that carries the session. */
  cookie: string;
  /** Where Bosun sent the browser after signing in (the callback's Location header, as sent). */
  location: string;
}

const cookieOf = (res: Response, name: string): string | undefined =>
  res.headers.getSetCookie().map((c) => c.split(";")[0] ?? "").find((c) => c.startsWith(`${name}=`));

export async function signInOverHttp(w: BosunWorld, login: string, next?: string): Promise<HttpSignIn> {
  const start = await fetch(`${w.bosun.url}/login${next === undefined ? "" : `?next=${encodeURIComponent(next)}`}`, { redirect: "manual" });
  const oauth = cookieOf(start, "bosun_oauth");
  const authorize = start.headers.get("location");
  if (!oauth || !authorize) throw new Error(`Bosun's /login did not start a sign-in (${start.status})`);
  const page = await fetch(authorize);
  const answer = await submitForm(formOf(await page.text(), authorize), { login });
  const callback = answer.headers.get("location");
  if (!callback) throw new Error(`the offline GitHub did not send the browser back (${answer.status})`);
  const back = await fetch(callback, { redirect: "manual", headers: { cookie: oauth } });
  const session = cookieOf(back, "bosun_session");
  const location = back.headers.get("location");
  if (!session || location === null) throw new Error(`Bosun's callback did not sign ${login} in (${back.status}): ${await back.text()}`);
  return { cookie: session, location };
}
