// Webhook deliveries as GitHub makes them: JSON POSTs with event, delivery id and HMAC signatures,
// sent after the triggering API call has answered, each kept so it can be redelivered.
import { createHmac, randomUUID } from "node:crypto";
import { sign } from "@octokit/webhooks-methods";

export interface Delivery {
  guid: string;
  event: string;
  action: string | null;
  payload: Record<string, unknown>;
  installationId: number | null;
  attempts: { at: Date; status: number | null; error: string | null; ms: number; redelivery: boolean }[];
}

export class WebhookSender {
  url: string | null;
  secret: string;
  readonly deliveries: Delivery[] = [];
  /** Called with every payload before it is sent (the fidelity check hooks in here). */
  onPayload: ((event: string, payload: Record<string, unknown>) => void) | null = null;
  /** While paused, deliveries are recorded and queued, then sent on resume (a GitHub outage or a slow app). */
  #paused = false;
  #queue: Delivery[] = [];
  #inflight = new Set<Promise<void>>();
  #hookId = 424242;

  constructor(url: string | null, secret: string) {
    this.url = url;
    this.secret = secret;
  }

  send(event: string, payload: Record<string, unknown>, installationId: number | null): Delivery {
    this.onPayload?.(event, payload);
    const d: Delivery = {
      guid: randomUUID(),
      event,
      action: typeof payload["action"] === "string" ? payload["action"] : null,
      payload,
      installationId,
      attempts: [],
    };
    this.deliveries.push(d);
    if (this.#paused) this.#queue.push(d);
    else this.#track(this.#attempt(d, false));
    return d;
  }

  redeliver(guid: string): Promise<void> {
    const d = this.deliveries.find((x) => x.guid === guid);
    if (!d) throw new Error(`[offline-github] no delivery ${guid}`);
    const p = this.#attempt(d, true);
    this.#track(p);
    return p;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    for (const d of this.#queue.splice(0)) this.#track(this.#attempt(d, false));
  }

  /** Resolves when every delivery started so far has been answered (or failed). */
  async settled(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  #track(p: Promise<void>): void {
    this.#inflight.add(p);
    void p.finally(() => this.#inflight.delete(p));
  }

  async #attempt(d: Delivery, redelivery: boolean): Promise<void> {
    const started = Date.now();
    if (!this.url) {
      d.attempts.push({ at: new Date(), status: null, error: "no webhook URL configured", ms: 0, redelivery });
      return;
    }
    const body = JSON.stringify(d.payload);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/offline",
      "x-github-event": d.event,
      "x-github-delivery": d.guid,
      "x-github-hook-id": String(this.#hookId),
      "x-github-hook-installation-target-type": "integration",
      "x-github-hook-installation-target-id": "1",
      "x-hub-signature": `sha1=${createHmac("sha1", this.secret).update(body).digest("hex")}`,
      "x-hub-signature-256": await sign(this.secret, body),
    };
    try {
      const res = await fetch(this.url, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
      await res.arrayBuffer();
      d.attempts.push({ at: new Date(), status: res.status, error: null, ms: Date.now() - started, redelivery });
    } catch (e) {
      d.attempts.push({ at: new Date(), status: null, error: String(e), ms: Date.now() - started, redelivery });
    }
  }
}
