// GitHub's side of registering an app from a manifest, as a person does it on the offline GitHub:
// the manifest form is posted, the confirmation page comes back, the person names themselves and
// the app and presses "Create GitHub App".
import assert from "node:assert/strict";
import { formOf, submitForm } from "./html-form.ts";

/** Posts the manifest and confirms; returns GitHub's answer to "Create GitHub App" (not followed). */
export async function createAppFromManifest(webUrl: string, manifest: unknown, o: { login: string; org?: string; name?: string; state?: string }): Promise<Response> {
  const path = `${o.org ? `/organizations/${o.org}` : ""}/settings/apps/new${o.state === undefined ? "" : `?state=${encodeURIComponent(o.state)}`}`;
  const url = new URL(path, webUrl).toString();
  const confirm = await submitForm({ action: url, fields: { manifest: typeof manifest === "string" ? manifest : JSON.stringify(manifest) } });
  const page = await confirm.text();
  assert.equal(confirm.status, 200, `the confirmation page:\n${page}`);
  return submitForm(formOf(page, url), { login: o.login, ...(o.name === undefined ? {} : { name: o.name }) });
}
