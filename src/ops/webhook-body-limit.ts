// Webhook bodies are bounded before they are buffered. @octokit/webhooks (behind Probot's server)
// reads a whole body into memory before it checks the signature, so anyone who can reach the URL
// could make Bosun hold gigabytes. GitHub caps a payload at 25 MB; anything larger is not GitHub.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Logger } from "pino";

/** GitHub's own cap on a webhook payload (docs: "Payloads are capped at 25 MB"). */
export const maxWebhookBodyBytes = 25 * 1024 * 1024;

/** How long a refused sender may go on sending (discarded) before its connection is closed. */
const lingerMs = 5_000;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Puts a size check in front of Probot's request listener for POSTs to the webhook path: a
 * declared Content-Length over the cap is refused with 413 before a byte is read; a chunked body
 * is read here, counting bytes, and refused (and the connection closed) as soon as it passes the
 * cap. A body within the cap is handed on already read (`rawBody`, which @octokit/webhooks'
 * getPayload takes instead of the stream), so it is read once.
 *
 * Call before any other listener is added (observeWebhookResponses prepends its own, which then
 * times the 413 as well).
 */
export function limitWebhookBodies(server: Server, log: Logger, o: { path?: string; maxBytes?: number } = {}): void {
  const path = o.path ?? "/api/github/webhooks";
  const max = o.maxBytes ?? maxWebhookBodyBytes;
  const inner = server.listeners("request") as RequestListener[];
  server.removeAllListeners("request");
  const passOn = (req: IncomingMessage, res: ServerResponse): void => {
    for (const l of inner) l.call(server, req, res);
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || (req.url ?? "").split("?")[0] !== path) return passOn(req, res);
    const from = req.socket.remoteAddress ?? "an unknown address";
    const delivery = req.headers["x-github-delivery"] ?? "none";
    const refuse = (what: string): void => {
      log.warn({ from, delivery, limitBytes: max }, `refused a webhook delivery from ${from}: ${what}, over GitHub's ${mb(max)} cap on webhook payloads; nothing in it was read further or acted on`);
      res.writeHead(413, { "content-type": "application/json" }).end(JSON.stringify({ error: `Webhook payloads are capped at ${mb(max)}.` }));
      // The rest of the body is discarded as it comes, never kept; a sender that has not hung up
      // within a few seconds is cut off. Closing at once would lose the 413 to a TCP reset (the
      // sender is still writing).
      req.resume();
      const linger = setTimeout(() => req.socket.destroy(), lingerMs).unref();
      req.socket.once("close", () => clearTimeout(linger));
    };
    const declared = req.headers["content-length"];
    if (declared !== undefined && Number(declared) > max) return refuse(`its body declares ${mb(Number(declared))}`);
    const chunks: Buffer[] = [];
    let bytes = 0;
    let over = false;
    const onData = (chunk: Buffer): void => {
      bytes += chunk.length;
      if (bytes <= max) return void chunks.push(chunk);
      over = true;
      chunks.length = 0;
      req.off("data", onData);
      refuse(`its body passed ${mb(max)} while being sent (chunked, no length declared)`);
    };
    req.on("data", onData);
    req.once("error", () => (chunks.length = 0));
    req.once("end", () => {
      if (over) return;
      // What @octokit/webhooks' getPayload reads when it is there (a body parser's convention).
      Object.assign(req, { body: {}, rawBody: Buffer.concat(chunks, bytes) });
      chunks.length = 0;
      passOn(req, res);
    });
  });
}

function mb(bytes: number): string {
  return bytes >= 1024 * 1024 * 1024 ? `${(bytes / 1024 ** 3).toFixed(1)} GB` : `${Math.round(bytes / 1024 ** 2)} MB`;
}
