// The egress proxy's socket file: its mode is set on the socket Bosun made, never through a
// symlink planted at its path (which would make the link's target world-writable).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, lstat, mkdtemp, rm, stat, symlink, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chmodSocket, listenOnSocket } from "../../src/sandbox/egress/socket.ts";

async function folder(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-socket-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("a symlink planted where the socket goes is refused, and its target keeps its mode", async (t) => {
  const dir = await folder(t);
  const target = join(dir, "secret");
  await writeFile(target, "x", { mode: 0o600 });
  await symlink(target, join(dir, "sock"));
  await assert.rejects(listenOnSocket(http.createServer(), join(dir, "sock")), /exists and is not a socket/);
  assert.equal((await stat(target)).mode & 0o777, 0o600);
});

test("chmodSocket changes the socket Bosun listens on, and refuses a symlink to it or to a file", async (t) => {
  const dir = await folder(t);
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(join(dir, "sock"), r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  await chmod(join(dir, "sock"), 0o600);
  await symlink(join(dir, "sock"), join(dir, "via-link"));
  await assert.rejects(chmodSocket(join(dir, "via-link"), 0o666), /is not the socket Bosun made \(a symlink/);
  assert.equal((await lstat(join(dir, "sock"))).mode & 0o777, 0o600, "not changed through the link");
  await writeFile(join(dir, "file"), "x", { mode: 0o600 });
  await assert.rejects(chmodSocket(join(dir, "file"), 0o666), /is not the socket Bosun made/);
  assert.equal((await stat(join(dir, "file"))).mode & 0o777, 0o600);
  await chmodSocket(join(dir, "sock"), 0o666);
  assert.equal((await lstat(join(dir, "sock"))).mode & 0o777, 0o666);
});
