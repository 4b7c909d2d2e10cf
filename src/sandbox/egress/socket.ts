// The proxy's Unix socket: where the sandbox's forwarder connects. A socket file a crashed owner
// left is replaced; closing cuts every client connection and removes the file.
import { constants } from "node:fs";
import { chmod, lstat, open, rm } from "node:fs/promises";
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
  await chmodSocket(socketPath, 0o666);

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

/** Linux's O_PATH (node:fs does not export it): a descriptor naming the file itself, for fstat and /proc. */
const oPath = 0o10000000;

/**
 * chmod of the socket Bosun just made, never of what a symlink points to: the path is opened with
 * O_PATH | O_NOFOLLOW (a symlink there is opened as itself), checked to be a socket Bosun owns,
 * and changed through /proc/self/fd, which names that very file (Linux has no lchmod; a symlink
 * would get ENOTSUP). The folder is Bosun's and bound read-only (src/sandbox/phase.ts); this holds
 * even if it were not.
 */
export async function chmodSocket(socketPath: string, mode: number): Promise<void> {
  const fd = await open(socketPath, oPath | constants.O_NOFOLLOW);
  try {
    const st = await fd.stat();
    if (!st.isSocket() || st.uid !== process.getuid?.()) throw new Error(`[bosun/egress] ${socketPath} is not the socket Bosun made (a ${st.isSymbolicLink() ? "symlink" : "file"} of uid ${st.uid}); its mode is left alone`);
    await chmod(`/proc/self/fd/${fd.fd}`, mode);
  } finally {
    await fd.close();
  }
}
