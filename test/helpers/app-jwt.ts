// Signs a GitHub App JWT (RS256) the way GitHub's docs describe, for tests that act as the app
// without going through Bosun.
import { createSign } from "node:crypto";
import { Octokit } from "@octokit/rest";

export function appJwt(appId: number, privateKeyPem: string, now = Math.floor(Date.now() / 1000)): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString("base64url");
  const body = `${enc({ alg: "RS256", typ: "JWT" })}.${enc({ iat: now - 30, exp: now + 540, iss: String(appId) })}`;
  const signature = createSign("RSA-SHA256").update(body).sign(privateKeyPem).toString("base64url");
  return `${body}.${signature}`;
}

export function octokitWith(baseUrl: string, token: string): Octokit {
  return new Octokit({ auth: token, baseUrl, retry: { enabled: false }, log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } });
}
