// The proxy's Unix socket: where the sandbox's forwarder connects. A socket file a crashed owner
// left is replaced; closing cuts every client connection and removes the file.
import { chmod, lstat, rm } from "node:fs/promises";
import type http from "node:http";
import type net from "node:net";
import type { Duplex } from "node:stream";

/** Listens on `socketPath`; `close` removes the file only after `settled`, what the requests still owe (their events). */
export async function listenOnSocket(server: http.Server, socketPath: string): Promise<{ close(settled: () => Promise<void>): Promise<void> }> {
  const clientSockets = new Set<Duplex>();
  server.on("connection", (s: net.Socket) => {
    clientSockets.add(s);
    s.once("close", () => clientSockets.delete(s));
  });

  // A socket file left by a crashed run is replaced; anything else at that path is not ours.
  const existing = await lstat(socketPath).catch(() => null);
  if (existing?.isSocket()) await rm(socketPath, { force: true });
  else if (existing) throw new Error(`[bosun/egress] ${socketPath} exists and is not a socket`);

  await new Promise<void>((resolveListen, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.removeListener("error", reject);
      resolveListen();
    });
  });
  // The sandbox user (uid 1000) connects to a socket that Bosun (root) owns.
  await chmod(socketPath, 0o666);

  return {
    close: async (settled) => {
      const serverClosed = new Promise<void>((r) => server.close(() => r()));
      for (const s of clientSockets) s.destroy();
      server.closeAllConnections();
      await serverClosed;
      await settled();
      await rm(socketPath, { force: true });
    },
  };
}
