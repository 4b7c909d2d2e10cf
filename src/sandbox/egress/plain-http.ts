// Absolute-form plain HTTP requests (`GET http://host/path`): vetted, forwarded to the vetted
// address with hop-by-hop headers dropped, answered with the target's response. A successful
// download whose path names a package is reported as a dependency install.
import http from "node:http";
import type net from "node:net";
import { normalizeHost } from "./addresses.ts";
import { recogniseDependency, type DependencyInstall } from "./dependencies.ts";
import type { Forwarding } from "./upstream.ts";
import { errorText } from "./vet.ts";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/** Headers to pass on: without hop-by-hop, Proxy-*, Host and anything `Connection` names. */
function forwardable(raw: string[]): Record<string, string[]> {
  const drop = new Set(HOP_BY_HOP);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === "connection") {
      for (const t of (raw[i + 1] ?? "").split(",")) drop.add(t.trim().toLowerCase());
    }
  }
  const out: Record<string, string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? "").toLowerCase();
    if (!name || drop.has(name) || name.startsWith("proxy-")) continue;
    (out[name] ??= []).push(raw[i + 1] ?? "");
  }
  return out;
}

/** A plain-text answer from the proxy itself; a response already under way is cut instead. */
function text(res: http.ServerResponse, status: number, body: string): void {
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const buf = Buffer.from(`${body}\n`);
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": buf.length });
  res.end(buf);
}

export async function forwardPlainHttp(req: http.IncomingMessage, res: http.ServerResponse, f: Forwarding & { onDependency?: (d: DependencyInstall) => void }): Promise<void> {
  const method = req.method ?? "GET";
  const ev = f.begin(method);
  let clientGone = false;
  let onClientClose = (): void => {};
  res.once("close", () => {
    clientGone = true;
    onClientClose();
  });
  let url: URL | null = null;
  try {
    url = new URL(req.url ?? "");
  } catch {
    // origin-form or garbage: not a proxy request
  }
  if (!url || url.protocol !== "http:") {
    const reason = url
      ? `only http:// targets are forwarded as plain requests; ${url.protocol} goes through CONNECT`
      : `"${req.url ?? ""}" is not an absolute http:// request target`;
    text(res, 400, `Bosun egress proxy: ${reason}`);
    ev.emit({ host: normalizeHost(req.headers.host ?? ""), port: 0, allowed: false, reason, bytesUp: 0, bytesDown: 0, status: 400 });
    return;
  }
  const host = normalizeHost(url.hostname);
  const port = url.port ? Number(url.port) : 80;
  const path = url.pathname;
  const base = { host, port, path };

  const v = await f.vet(host, port);
  if (!v.ok) {
    text(res, v.status, `Bosun egress proxy refused ${host}:${port}: ${v.reason}`);
    ev.emit({ ...base, allowed: v.allowed, reason: v.reason, bytesUp: 0, bytesDown: 0, status: v.status });
    return;
  }
  let upstream: net.Socket;
  try {
    if (clientGone) throw new Error("the client went away");
    upstream = await f.connect(v.addresses, port);
  } catch (err) {
    const reason = `${v.reason}; could not connect to ${host}:${port}: ${errorText(err)}`;
    text(res, 502, `Bosun egress proxy: ${reason}`);
    ev.emit({ ...base, allowed: true, reason, bytesUp: 0, bytesDown: 0, status: 502 });
    return;
  }
  if (clientGone) {
    upstream.destroy();
    ev.emit({ ...base, allowed: true, reason: `${v.reason}; the client went away`, bytesUp: 0, bytesDown: 0 });
    return;
  }

  let reason = v.reason;
  let status: number | undefined;
  const headers = forwardable(req.rawHeaders);
  const up = http.request({
    method,
    path: `${url.pathname}${url.search}`,
    headers: { ...headers, host: url.host },
    setHost: false,
    createConnection: () => upstream,
  });
  up.on("response", (ur) => {
    status = ur.statusCode ?? 502;
    res.writeHead(status, ur.statusMessage, forwardable(ur.rawHeaders));
    ur.pipe(res);
    ur.on("error", () => res.destroy());
  });
  up.on("error", (err) => {
    if (clientGone) return;
    reason = `${v.reason}; error from ${host}:${port}: ${errorText(err)}`;
    if (!res.headersSent) {
      status = 502;
      text(res, 502, `Bosun egress proxy: ${reason}`);
    } else res.destroy();
  });
  req.pipe(up);
  onClientClose = () => {
    const finished = res.writableFinished;
    ev.emit({ ...base, allowed: true, reason, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, status });
    upstream.destroy();
    if (finished && status !== undefined && status >= 200 && status < 300 && f.onDependency) {
      const dep = recogniseDependency(host, path);
      if (dep) {
        try {
          f.onDependency({ ...dep, url: `http://${url.host}${path}` });
        } catch {
          // as for onEvent: the listener's failure is not the download's
        }
      }
    }
  };
}
