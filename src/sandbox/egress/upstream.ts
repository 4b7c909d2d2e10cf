// Reaching a target: TCP to the addresses vetting gave (never to the name again), one after the
// other, each attempt bounded by the connect timeout; every connection is cut when the proxy closes.
import net from "node:net";
import type { EventLog } from "./events.ts";
import type { Vet } from "./vet.ts";

export interface Upstream {
  connect: (addresses: string[], port: number) => Promise<net.Socket>;
  /** Refuses further connections and cuts the open ones. */
  close: () => void;
}

/** What both kinds of request (CONNECT tunnels, plain HTTP) go through: the decision, the connection, the record. */
export interface Forwarding {
  vet: Vet;
  connect: Upstream["connect"];
  begin: EventLog["begin"];
}

export function createUpstream(timeoutMs: number): Upstream {
  const sockets = new Set<net.Socket>();
  let closing = false;
  return {
    connect: async (addresses, port) => {
      let last: unknown = new Error("no address");
      for (const address of addresses) {
        if (closing) throw new Error("the egress proxy is closing");
        try {
          const socket = await new Promise<net.Socket>((resolveSocket, reject) => {
            const s = net.connect({ host: address, port });
            sockets.add(s);
            s.once("close", () => sockets.delete(s));
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
    },
    close: () => {
      closing = true;
      for (const s of sockets) s.destroy();
    },
  };
}
