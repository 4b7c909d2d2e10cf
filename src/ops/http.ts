// Operations endpoints next to the webhook route: /healthz (the process answers), /readyz
// (Postgres and Docker answer, within two seconds each) and /metrics (Prometheus); and the time
// GitHub waits for each webhook delivery's answer.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Pool } from "pg";
import type { Sandbox } from "../sandbox/sandbox.ts";
import { registry, renderMetrics, webhookResponse } from "./metrics.ts";

/**
 * Times every POST to the webhook path from its arrival to its response being sent, by status,
 * signature failures included. It listens on the HTTP server itself, ahead of Probot's request
 * listener: Probot puts its webhook middleware before every handler added with `addHandler`, so a
 * handler would never see a delivery.
 */
export function observeWebhookResponses(server: Server, path = "/api/github/webhooks"): void {
  server.prependListener("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || (req.url ?? "").split("?")[0] !== path) return;
    const end = webhookResponse.startTimer();
    res.once("finish", () => end({ status: String(res.statusCode) }));
  });
}

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export function operationsHandler(o: { pool: Pool; sandbox: Sandbox }) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = (req.url ?? "").split("?")[0];
    if (req.method !== "GET") return false;
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok" }));
      return true;
    }
    if (path === "/readyz") {
      const check = async (p: Promise<unknown>): Promise<string> => within(2000, p).then(() => "ok", (e: unknown) => `unreachable: ${e instanceof Error ? e.message : String(e)}`);
      const [postgres, docker] = await Promise.all([check(o.pool.query("SELECT 1")), check(o.sandbox.ping())]);
      const ready = postgres === "ok" && docker === "ok";
      res.writeHead(ready ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify({ status: ready ? "ready" : "not ready", postgres, docker }));
      return true;
    }
    if (path === "/metrics") {
      const body = await renderMetrics();
      res.writeHead(200, { "content-type": registry.contentType }).end(body);
      return true;
    }
    return false;
  };
}
