// Anyone who can reach the webhook URL: a 3 GB body (declared, and chunked with no length) is
// refused with 413 before it is buffered, and Bosun's memory (it runs in this process) stays put;
// a body just under GitHub's 25 MB cap is still read and refused for its bad signature as before.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request, type IncomingMessage } from "node:http";
import { PassThrough, Readable } from "node:stream";
import { sign } from "@octokit/webhooks-methods";
import { maxWebhookBodyBytes } from "../../../src/ops/webhook-body-limit.ts";
import { startBosunWorld } from "../../helpers/bosun-world.ts";

const MiB = 1024 * 1024;
const threeGB = 3 * 1024 * MiB;
/** What Bosun may grow by while 3 GB is thrown at it: the 25 MB it may read of a chunked body, and slack. */
const memoryBoundBytes = 80 * MiB;

/** 3 GB of JSON-ish bytes, one reused 1 MiB block at a time: the test never holds more than that. */
function* threeGigabytes(): Generator<Buffer> {
  const block = Buffer.alloc(MiB, 0x20);
  for (let sent = 0; sent < threeGB; sent += MiB) yield block;
}

interface Sent { status: number; body: string; bytesSent: number }

/** POSTs `body` to the webhook URL; resolves with Bosun's answer as soon as it comes, abandoning the rest. */
function post(url: string, headers: Record<string, string>, body: Readable): Promise<Sent> {
  return new Promise((resolve, reject) => {
    let bytesSent = 0;
    body.on("data", (c: Buffer) => (bytesSent += c.length));
    const req = request(url, { method: "POST", headers });
    req.on("response", (res: IncomingMessage) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => {
        body.destroy();
        req.destroy();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), bytesSent });
      });
    });
    // Bosun closing the connection mid-body is expected once it has answered; before, it is a failure.
    req.on("error", (e) => setTimeout(() => reject(e), 2000));
    body.pipe(req);
  });
}

const hookHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({
  "content-type": "application/json", "x-github-event": "issue_comment", "x-github-delivery": `flood-${Math.random()}`,
  "x-hub-signature-256": "sha256=" + "0".repeat(64), ...extra,
});

/** Bosun's resident memory at its highest while `f` runs, above what it was just before. */
async function growthWhile<T>(f: () => Promise<T>): Promise<{ result: T; growth: number }> {
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  try {
    const result = await f();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

test("webhook bodies over GitHub's 25 MB cap are refused before they are buffered", async (t) => {
  const logs: string[] = [];
  const logStream = new PassThrough();
  logStream.on("data", (d: Buffer) => logs.push(d.toString()));
  const w = await startBosunWorld(t, {}, { logStream });
  const url = w.bosun.webhookUrl;

  await t.test("a 3 GB body that declares its length is refused with 413 before any of it is read", async () => {
    const started = Date.now();
    const { result, growth } = await growthWhile(() => post(url, hookHeaders({ "content-length": String(threeGB) }), Readable.from(threeGigabytes())));
    assert.equal(result.status, 413);
    assert.match(result.body, /Webhook payloads are capped at 25 MB/);
    assert.ok(result.bytesSent < 200 * MiB, `the sender got its answer early (after ${result.bytesSent} bytes)`);
    assert.ok(growth < memoryBoundBytes, `Bosun grew by ${(growth / MiB).toFixed(1)} MiB (bound ${memoryBoundBytes / MiB} MiB)`);
    t.diagnostic(`declared 3 GB: 413 after ${Date.now() - started} ms, ${(result.bytesSent / MiB).toFixed(0)} MiB sent, memory +${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(logs.some((l) => l.includes("its body declares 3.0 GB, over GitHub's 25 MB cap on webhook payloads")), "the log says what was refused and why");
  });

  await t.test("a chunked 3 GB body (no length) is cut off with 413 once it passes 25 MB", async () => {
    const started = Date.now();
    const { result, growth } = await growthWhile(() => post(url, hookHeaders({ "transfer-encoding": "chunked" }), Readable.from(threeGigabytes())));
    assert.equal(result.status, 413);
    assert.ok(result.bytesSent < 200 * MiB, `the sender was stopped early (after ${result.bytesSent} bytes)`);
    assert.ok(growth < memoryBoundBytes, `Bosun grew by ${(growth / MiB).toFixed(1)} MiB (bound ${memoryBoundBytes / MiB} MiB)`);
    t.diagnostic(`chunked 3 GB: 413 after ${Date.now() - started} ms, ${(result.bytesSent / MiB).toFixed(0)} MiB sent, memory +${(growth / MiB).toFixed(1)} MiB`);
    assert.ok(logs.some((l) => l.includes("its body passed 25 MB while being sent (chunked, no length declared)")));
  });

  await t.test("a body just under the cap is read, and refused for its bad signature as before", async () => {
    const payload = Buffer.from(JSON.stringify({ action: "created", padding: "x".repeat(maxWebhookBodyBytes - 1024) }));
    assert.ok(payload.length < maxWebhookBodyBytes && payload.length > maxWebhookBodyBytes - 2048);
    const framings: Record<string, string>[] = [{ "content-length": String(payload.length) }, { "transfer-encoding": "chunked" }];
    for (const framing of framings) {
      const res = await post(url, hookHeaders(framing), Readable.from([payload]));
      assert.equal(res.status, 400, res.body);
      assert.match(res.body, /signature does not match event payload and secret/);
    }
  });

  await t.test("a signed delivery sent chunked is still verified and answered", async () => {
    const body = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const res = await post(url, hookHeaders({ "x-github-event": "ping", "transfer-encoding": "chunked", "x-hub-signature-256": await sign(w.gh.webhookSecret, body) }), Readable.from([Buffer.from(body)]));
    assert.equal(res.status, 200, res.body);
    assert.equal(res.body, "ok\n");
  });
});
