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
//
// By concern: tunnel.ts (CONNECT), plain-http.ts (forwarded requests), vet.ts (the decision),
// upstream.ts (connecting to vetted addresses), events.ts (the record), socket.ts (the Unix
// socket's life); this file puts them together.
import http from "node:http";
import type { Duplex } from "node:stream";
import type { EgressRule } from "./allowlist.ts";
import type { DependencyInstall } from "./dependencies.ts";
import { createEventLog, type NetworkEvent } from "./events.ts";
import type { NameCacheOptions } from "./names.ts";
import { forwardPlainHttp } from "./plain-http.ts";
import { listenOnSocket } from "./socket.ts";
import { openTunnel } from "./tunnel.ts";
import { createUpstream, type Forwarding } from "./upstream.ts";
import { createVetter } from "./vet.ts";

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

export async function startEgressProxy(o: EgressProxyOptions): Promise<EgressProxy> {
  const timeoutMs = o.connectTimeoutMs ?? 10_000;
  const log = createEventLog(o.onEvent);
  const upstream = createUpstream(timeoutMs);
  const forwarding: Forwarding = { vet: createVetter({ rule: o.rule, resolve: o.resolve, timeoutMs, nameCache: o.nameCache }), connect: upstream.connect, begin: log.begin };

  const server = http.createServer({ keepAliveTimeout: 65_000 });
  server.on("request", (req, res) => void forwardPlainHttp(req, res, { ...forwarding, onDependency: o.onDependency }));
  server.on("connect", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void openTunnel(req, socket, head, forwarding));
  const listening = await listenOnSocket(server, o.socketPath);

  let closed: Promise<void> | null = null;
  return {
    socketPath: o.socketPath,
    events: log.events,
    close: () =>
      (closed ??= (async () => {
        upstream.close();
        await listening.close(log.settled);
      })()),
  };
}
