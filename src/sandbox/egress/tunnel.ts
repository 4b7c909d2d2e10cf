// `CONNECT host:port` tunnels: vetted, then the client's bytes piped to the vetted address and
// back; the event, with the bytes each way, is emitted when both sides have closed.
import type http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";
import { normalizeHost } from "./addresses.ts";
import type { Forwarding } from "./upstream.ts";
import { errorText } from "./vet.ts";

/** Split a CONNECT target "host:port" / "[v6]:port". */
function parseAuthority(target: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!host || !(port >= 1 && port <= 65535)) return null;
  return { host, port };
}

export async function openTunnel(req: http.IncomingMessage, socket: Duplex, head: Buffer, f: Forwarding): Promise<void> {
  const ev = f.begin("CONNECT");
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
  const v = await f.vet(host, port);
  if (!v.ok) {
    refuse(v.status, v.status === 403 ? "Forbidden" : "Bad Gateway", `Bosun egress proxy refused ${host}:${port}: ${v.reason}`);
    ev.emit({ host, port, allowed: v.allowed, reason: v.reason, bytesUp: 0, bytesDown: 0, status: v.status });
    return;
  }
  let upstream: net.Socket;
  try {
    if (socket.destroyed) throw new Error("the client went away");
    upstream = await f.connect(v.addresses, port);
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
}
