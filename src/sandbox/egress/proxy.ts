// Bosun's egress proxy for one sandbox phase. Agent containers run with Docker's network `none`;
// in `allowlist` mode their only way out is this proxy's Unix socket, bind-mounted into the
// container behind a loopback forwarder (forwarder.ts, on 127.0.0.1:3128), used as an ordinary HTTP proxy.
//
// It speaks HTTP proxy protocol: `CONNECT host:port` tunnels and absolute-form plain HTTP requests.
// A destination is allowed when its name is listed (exactly, by wildcard, or through a registry
// preset) for that port, and every address it resolves to is either public or listed explicitly.
// The proxy connects to the address it vetted, never to the name again, so a second DNS answer
// cannot move the connection into Bosun's own network. Every request, allowed or refused, is one
// NetworkEvent for the transcript.
import { chmod, lstat, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { normalizeHost } from "./addresses.ts";
import type { EgressRule } from "./allowlist.ts";
import { recogniseDependency, type DependencyInstall } from "./dependencies.ts";
import type { NameCacheOptions } from "./names.ts";
import { createVetter, errorText } from "./vet.ts";

export interface NetworkEvent {
  host: string;
  port: number;
  method: string;
  allowed: boolean;
  reason: string;
  bytesUp: number;
  bytesDown: number;
  startedAt: string;
  durationMs: number;
  /** For plain HTTP only: the URL path (query stripped), so package downloads can be recognised. */
  path?: string;
  /** The status the proxy answered the client with (the target's status for forwarded requests). */
  status?: number;
}

export interface EgressProxy {
  socketPath: string;
  close(): Promise<void>;
  events(): NetworkEvent[];
}

export interface EgressProxyOptions {
  socketPath: string;
  rule: EgressRule;
  onEvent?: (e: NetworkEvent) => void;
  onDependency?: (d: DependencyInstall) => void;
  /** Name → addresses; default `dns.promises.lookup(host, { all: true })`. Called once per host at a time, its answers kept (see names.ts). */
  resolve?: (host: string) => Promise<string[]>;
  /** Bound on resolving a name and on each TCP connect to a target; default 10 s. */
  connectTimeoutMs?: number;
  /** How long answers and failures are kept: see names.ts for the defaults and why. */
  nameCache?: Pick<NameCacheOptions, "ttlMs" | "negativeTtlMs" | "staleMs" | "now">;
}

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

/** Split a CONNECT target "host:port" / "[v6]:port". */
function parseAuthority(target: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !(port >= 1 && port <= 65535)) return null;
  return { host, port };
}

export async function startEgressProxy(o: EgressProxyOptions): Promise<EgressProxy> {
  const timeoutMs = o.connectTimeoutMs ?? 10_000;
  const vet = createVetter({ rule: o.rule, resolve: o.resolve, timeoutMs, nameCache: o.nameCache });

  const log: NetworkEvent[] = [];
  const clientSockets = new Set<Duplex>();
  const upstreamSockets = new Set<net.Socket>();
  const pending = new Set<Promise<void>>();
  let closing = false;

  const record = (e: NetworkEvent): void => {
    log.push(e);
    try {
      o.onEvent?.(e);
    } catch {
      // A failing listener must not take the proxy (and the phase's network) down.
    }
  };

  /** One event per request: the returned function emits it once, and close() waits for it. */
  const begin = (method: string): { emit: (e: Omit<NetworkEvent, "method" | "startedAt" | "durationMs">) => void } => {
    const started = Date.now();
    let done: () => void = () => {};
    const p = new Promise<void>((r) => (done = r));
    pending.add(p);
    let emitted = false;
    return {
      emit: (e) => {
        if (emitted) return;
        emitted = true;
        record({ ...e, method, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started });
        pending.delete(p);
        done();
      },
    };
  };
  /** TCP to the vetted addresses in turn, each attempt bounded by the connect timeout. */
  const connectVetted = async (addresses: string[], port: number): Promise<net.Socket> => {
    let last: unknown = new Error("no address");
    for (const address of addresses) {
      if (closing) throw new Error("the egress proxy is closing");
      try {
        const socket = await new Promise<net.Socket>((resolveSocket, reject) => {
          const s = net.connect({ host: address, port });
          upstreamSockets.add(s);
          s.once("close", () => upstreamSockets.delete(s));
          const timer = setTimeout(() => {
            s.destroy();
            reject(new Error(`connect to ${address} port ${port} timed out after ${timeoutMs} ms`));
          }, timeoutMs);
          s.once("connect", () => {
            clearTimeout(timer);
            s.removeListener("error", reject);
            resolveSocket(s);
          });
          s.once("error", (err) => {
            clearTimeout(timer);
            reject(err);
          });
        });
        if (closing) {
          socket.destroy();
          throw new Error("the egress proxy is closing");
        }
        return socket;
      } catch (err) {
        last = err;
      }
    }
    throw last;
  };

  const text = (res: http.ServerResponse, status: number, body: string): void => {
    if (res.destroyed || res.writableEnded) return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const buf = Buffer.from(`${body}\n`);
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": buf.length });
    res.end(buf);
  };

  const handleHttp = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const method = req.method ?? "GET";
    const ev = begin(method);
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

    const v = await vet(host, port);
    if (!v.ok) {
      text(res, v.status, `Bosun egress proxy refused ${host}:${port}: ${v.reason}`);
      ev.emit({ ...base, allowed: v.allowed, reason: v.reason, bytesUp: 0, bytesDown: 0, status: v.status });
      return;
    }
    let upstream: net.Socket;
    try {
      if (clientGone) throw new Error("the client went away");
      upstream = await connectVetted(v.addresses, port);
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
      if (finished && status !== undefined && status >= 200 && status < 300 && o.onDependency) {
        const dep = recogniseDependency(host, path);
        if (dep) {
          try {
            o.onDependency({ ...dep, url: `http://${url.host}${path}` });
          } catch {
            // as for onEvent: the listener's failure is not the download's
          }
        }
      }
    };
  };

  const handleConnect = async (req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> => {
    const ev = begin("CONNECT");
    socket.on("error", () => {});
    const target = parseAuthority(req.url ?? "");
    const refuse = (status: number, statusText: string, body: string): void => {
      const buf = Buffer.from(`${body}\n`);
      socket.end(
        `HTTP/1.1 ${status} ${statusText}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${buf.length}\r\nconnection: close\r\n\r\n${buf.toString()}`,
      );
    };
    if (!target) {
      const reason = `"${req.url ?? ""}" is not a host:port CONNECT target`;
      refuse(400, "Bad Request", `Bosun egress proxy: ${reason}`);
      ev.emit({ host: "", port: 0, allowed: false, reason, bytesUp: 0, bytesDown: 0, status: 400 });
      return;
    }
    const host = normalizeHost(target.host);
    const { port } = target;
    const v = await vet(host, port);
    if (!v.ok) {
      refuse(v.status, v.status === 403 ? "Forbidden" : "Bad Gateway", `Bosun egress proxy refused ${host}:${port}: ${v.reason}`);
      ev.emit({ host, port, allowed: v.allowed, reason: v.reason, bytesUp: 0, bytesDown: 0, status: v.status });
      return;
    }
    let upstream: net.Socket;
    try {
      if (socket.destroyed) throw new Error("the client went away");
      upstream = await connectVetted(v.addresses, port);
    } catch (err) {
      const reason = `${v.reason}; could not connect to ${host}:${port}: ${errorText(err)}`;
      refuse(502, "Bad Gateway", `Bosun egress proxy: ${reason}`);
      ev.emit({ host, port, allowed: true, reason, bytesUp: 0, bytesDown: 0, status: 502 });
      return;
    }
    if (socket.destroyed) {
      upstream.destroy();
      ev.emit({ host, port, allowed: true, reason: `${v.reason}; the client went away`, bytesUp: 0, bytesDown: 0 });
      return;
    }
    let reason = v.reason;
    let open = 2;
    const closed = (): void => {
      if (--open > 0) return;
      ev.emit({ host, port, allowed: true, reason, bytesUp: upstream.bytesWritten, bytesDown: upstream.bytesRead, status: 200 });
    };
    upstream.on("error", (err) => {
      reason = `${v.reason}; tunnel error from ${host}:${port}: ${errorText(err)}`;
      socket.destroy();
    });
    socket.on("error", () => upstream.destroy());
    upstream.on("close", () => {
      if (!socket.writableEnded) socket.destroy();
      closed();
    });
    socket.on("close", () => {
      if (!upstream.writableEnded) upstream.destroy();
      closed();
    });
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  };

  const server = http.createServer({ keepAliveTimeout: 65_000 });
  server.on("connection", (s: net.Socket) => {
    clientSockets.add(s);
    s.once("close", () => clientSockets.delete(s));
  });
  server.on("request", (req, res) => void handleHttp(req, res));
  server.on("connect", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void handleConnect(req, socket, head));

  // A socket file left by a crashed run is replaced; anything else at that path is not ours.
  const existing = await lstat(o.socketPath).catch(() => null);
  if (existing?.isSocket()) await rm(o.socketPath, { force: true });
  else if (existing) throw new Error(`[bosun/egress] ${o.socketPath} exists and is not a socket`);

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(o.socketPath, () => {
      server.removeListener("error", reject);
      resolveListen();
    });
  });
  // The sandbox user (uid 1000) connects to a socket that Bosun (root) owns.
  await chmod(o.socketPath, 0o666);

  let closed: Promise<void> | null = null;
  return {
    socketPath: o.socketPath,
    events: () => [...log],
    close: () =>
      (closed ??= (async () => {
        closing = true;
        const serverClosed = new Promise<void>((r) => server.close(() => r()));
        for (const s of clientSockets) s.destroy();
        for (const s of upstreamSockets) s.destroy();
        server.closeAllConnections();
        await serverClosed;
        await Promise.all([...pending]);
        await rm(o.socketPath, { force: true });
      })()),
  };
}
