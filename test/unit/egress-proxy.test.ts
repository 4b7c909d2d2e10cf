// The egress proxy, driven through its Unix socket like the sandbox's socat forwarder does.
// Every target is a stand-in on 127.0.0.1; names come from static pins or a static resolver.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { isInternalAddress } from "../../src/sandbox/egress/addresses.ts";
import { expandPresets, hostAllowed } from "../../src/sandbox/egress/allowlist.ts";
import { recogniseDependency, type DependencyInstall } from "../../src/sandbox/egress/dependencies.ts";
import type { NetworkEvent } from "../../src/sandbox/egress/events.ts";
import { startEgressProxy, type EgressProxy } from "../../src/sandbox/egress/proxy.ts";

const TARBALL = "/left-pad/-/left-pad-1.3.0.tgz";
const TARBALL_BODY = "pretend this is a gzipped tarball";

let dir: string;
let registry: http.Server;
let echo: net.Server;
let httpPort: number;
let echoPort: number;
let closedPort: number;
let proxy: EgressProxy;
const events: NetworkEvent[] = [];
const deps: DependencyInstall[] = [];
const seenHeaders: http.IncomingHttpHeaders[] = [];

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      assert.ok(address && typeof address === "object");
      resolve(address.port);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Resolution without DNS: only these names exist. */
const staticNames: Record<string, string[]> = { "sneaky.bosun.test": ["127.0.0.1"] };
async function staticResolve(host: string): Promise<string[]> {
  await Promise.resolve();
  const found = staticNames[host];
  if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return found;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "bosun-egress-"));
  registry = http.createServer((req, res) => {
    seenHeaders.push(req.headers);
    if (new URL(req.url ?? "/", "http://x").pathname === TARBALL) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(TARBALL_BODY);
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not here");
    }
  });
  echo = net.createServer((s) => s.pipe(s));
  httpPort = await listen(registry);
  echoPort = await listen(echo);
  const gone = net.createServer();
  closedPort = await listen(gone);
  await closeServer(gone);

  proxy = await startEgressProxy({
    socketPath: join(dir, "egress.sock"),
    rule: {
      hosts: [
        `registry.bosun.test:${httpPort}`,
        `registry.bosun.test:${echoPort}`,
        `sneaky.bosun.test:${httpPort}`,
        `missing.bosun.test:${httpPort}`,
        `closed.bosun.test:${closedPort}`,
        `127.0.0.1:${echoPort}`,
      ],
      presets: ["npm"],
      addresses: { "registry.bosun.test": "127.0.0.1", "closed.bosun.test": "127.0.0.1" },
    },
    resolve: staticResolve,
    connectTimeoutMs: 2_000,
    onEvent: (e) => events.push(e),
    onDependency: (d) => deps.push(d),
  });
});

after(async () => {
  await proxy.close();
  registry.closeAllConnections();
  await closeServer(registry);
  await closeServer(echo);
  await rm(dir, { recursive: true, force: true });
});

interface Got {
  status: number;
  body: string;
  reused: boolean;
}

function get(url: string, o: { agent?: http.Agent; headers?: http.OutgoingHttpHeaders; socketPath?: string } = {}): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: o.socketPath ?? proxy.socketPath, path: url, headers: o.headers, agent: o.agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), reused: req.reusedSocket }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** CONNECT through the proxy: the status line's code, the socket and whatever came with the head. */
function connect(target: string, socketPath = proxy.socketPath): Promise<{ status: number; socket: Duplex; head: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: "CONNECT", path: target });
    req.on("connect", (res: http.IncomingMessage, socket: Duplex, head: Buffer) =>
      resolve({ status: res.statusCode ?? 0, socket, head }),
    );
    req.on("error", reject);
    req.end();
  });
}

function readAll(socket: Duplex, head: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [head];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString()));
    socket.on("error", reject);
  });
}

async function eventFor(pred: (e: NetworkEvent) => boolean): Promise<NetworkEvent> {
  for (let i = 0; i < 200; i++) {
    const e = events.find(pred);
    if (e) return e;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail("no such event");
}

test("an allowed plain-HTTP download is forwarded, recorded and recognised", async () => {
  const url = `http://registry.bosun.test:${httpPort}${TARBALL}?cache=no`;
  const got = await get(url, { headers: { "proxy-authorization": "Basic c2VjcmV0", "x-keep": "yes" } });
  assert.equal(got.status, 200);
  assert.equal(got.body, TARBALL_BODY);
  const upstream = seenHeaders.at(-1);
  assert.equal(upstream?.host, `registry.bosun.test:${httpPort}`);
  assert.equal(upstream?.["proxy-authorization"], undefined);
  assert.equal(upstream?.["x-keep"], "yes");

  const e = await eventFor((x) => x.path === TARBALL && x.status === 200);
  assert.equal(e.host, "registry.bosun.test");
  assert.equal(e.port, httpPort);
  assert.equal(e.method, "GET");
  assert.equal(e.allowed, true);
  assert.ok(e.bytesUp > 0 && e.bytesDown > TARBALL_BODY.length, JSON.stringify(e));
  assert.ok(!Number.isNaN(Date.parse(e.startedAt)) && e.durationMs >= 0);
  assert.deepEqual(deps, [
    { ecosystem: "npm", name: "left-pad", version: "1.3.0", host: "registry.bosun.test", url: `http://registry.bosun.test:${httpPort}${TARBALL}` },
  ]);
});

test("names compare case-insensitively and without a trailing dot", async () => {
  const got = await get(`http://Registry.BOSUN.test.:${httpPort}/nothing`);
  assert.equal(got.status, 404);
  assert.equal(got.body, "not here");
});

test("a name not in the allowlist is refused with the reason", async () => {
  const got = await get(`http://evil.bosun.test:${httpPort}/x?token=1`);
  assert.equal(got.status, 403);
  assert.match(got.body, /"evil\.bosun\.test" is not in the allowlist \(policy: network\.hosts \/ presets\)/);
  const e = await eventFor((x) => x.host === "evil.bosun.test");
  assert.equal(e.allowed, false);
  assert.equal(e.status, 403);
  assert.equal(e.path, "/x");
  assert.equal(e.bytesUp + e.bytesDown, 0);
});

test("an allowed name on an unlisted port is refused", async () => {
  const got = await get(`http://registry.bosun.test:${closedPort}/`);
  assert.equal(got.status, 403);
  assert.match(got.body, /not on port/);
});

test("a listed name whose resolver answer is loopback (not pinned, literal listed only on another port) is refused", async () => {
  const got = await get(`http://sneaky.bosun.test:${httpPort}${TARBALL}`);
  assert.equal(got.status, 403);
  assert.match(got.body, /"sneaky\.bosun\.test" resolves to 127\.0\.0\.1, inside Bosun's own network; list the address explicitly/);
  const e = await eventFor((x) => x.host === "sneaky.bosun.test");
  assert.equal(e.allowed, false);
});

test("an IP literal listed in hosts is explicit (for its ports) and may be loopback", async () => {
  const { status, socket, head } = await connect(`127.0.0.1:${echoPort}`);
  assert.equal(status, 200);
  const all = readAll(socket, head);
  socket.end("ping");
  assert.equal(await all, "ping");
  // the same literal on another port is not listed
  assert.equal((await get(`http://127.0.0.1:${httpPort}/`)).status, 403);
});

test("\"localhost\" listed without a pin is refused: it resolves to loopback", async () => {
  const p = await startEgressProxy({ socketPath: join(dir, "localhost.sock"), rule: { hosts: [`localhost:${httpPort}`], presets: [] } });
  try {
    const got = await get(`http://localhost:${httpPort}/`, { socketPath: p.socketPath });
    assert.equal(got.status, 403);
    assert.match(got.body, /"localhost" resolves to (127\.0\.0\.1|::1), inside Bosun's own network/);
    assert.equal(p.events()[0]?.allowed, false);
  } finally {
    await p.close();
  }
});

test("unreachable and unresolvable targets answer 502 and are allowed events", async () => {
  const refused = await get(`http://closed.bosun.test:${closedPort}/`);
  assert.equal(refused.status, 502);
  const e1 = await eventFor((x) => x.host === "closed.bosun.test");
  assert.equal(e1.allowed, true);
  assert.match(e1.reason, /ECONNREFUSED/);

  const missing = await get(`http://missing.bosun.test:${httpPort}/`);
  assert.equal(missing.status, 502);
  const e2 = await eventFor((x) => x.host === "missing.bosun.test");
  assert.equal(e2.allowed, true);
  assert.match(e2.reason, /ENOTFOUND/);
});

test("an origin-form request is not forwarded", async () => {
  const got = await get("/left-pad");
  assert.equal(got.status, 400);
});

test("keep-alive: several requests on one client connection", async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const url = `http://registry.bosun.test:${httpPort}${TARBALL}`;
    const a = await get(url, { agent });
    const b = await get(`http://evil.bosun.test:${httpPort}/`, { agent });
    const c = await get(url, { agent });
    assert.deepEqual([a.status, b.status, c.status], [200, 403, 200]);
    assert.equal(c.body, TARBALL_BODY);
    assert.deepEqual([a.reused, b.reused, c.reused], [false, true, true]);
  } finally {
    agent.destroy();
  }
});

test("CONNECT to an allowed pinned host tunnels both ways and counts bytes", async () => {
  const { status, socket, head } = await connect(`registry.bosun.test:${echoPort}`);
  assert.equal(status, 200);
  const all = readAll(socket, head);
  socket.write("hello through the tunnel");
  socket.end();
  assert.equal(await all, "hello through the tunnel");
  const e = await eventFor((x) => x.method === "CONNECT" && x.host === "registry.bosun.test" && x.port === echoPort);
  assert.equal(e.allowed, true);
  assert.equal(e.host, "registry.bosun.test");
  assert.equal(e.bytesUp, "hello through the tunnel".length);
  assert.equal(e.bytesDown, "hello through the tunnel".length);
  assert.equal(e.path, undefined);
});

test("CONNECT to an unlisted host is refused with 403 and the reason", async () => {
  const { status, socket, head } = await connect("evil.bosun.test:443");
  assert.equal(status, 403);
  const rest = await readAll(socket, head);
  assert.match(rest, /"evil\.bosun\.test" is not in the allowlist/);
  const e = await eventFor((x) => x.method === "CONNECT" && x.host === "evil.bosun.test");
  assert.equal(e.allowed, false);
  assert.equal(e.port, 443);
});

test("CONNECT to a listed name resolving to loopback is refused", async () => {
  const { status, socket, head } = await connect(`sneaky.bosun.test:${httpPort}`);
  assert.equal(status, 403);
  assert.match(await readAll(socket, head), /inside Bosun's own network/);
});

test("the socket is mode 0666, close() ends open tunnels and removes the socket", async () => {
  const seen: NetworkEvent[] = [];
  const p = await startEgressProxy({
    socketPath: join(dir, "mode.sock"),
    rule: { hosts: [`pinned.bosun.test:${echoPort}`], presets: [], addresses: { "pinned.bosun.test": "127.0.0.1" } },
    onEvent: (e) => seen.push(e),
  });
  assert.equal((await stat(p.socketPath)).mode & 0o777, 0o666);
  const { status, socket } = await connect(`pinned.bosun.test:${echoPort}`, p.socketPath);
  assert.equal(status, 200);
  const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  socket.on("error", () => {});
  socket.write("abc");
  await new Promise((r) => socket.once("data", r));
  await p.close();
  await ended;
  assert.equal(seen.length, 1);
  assert.equal(seen[0]?.bytesUp, 3);
  assert.deepEqual(p.events(), seen);
  await assert.rejects(stat(p.socketPath), { code: "ENOENT" });
});

test("isInternalAddress", () => {
  const internal = [
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1",
    "169.254.169.254", "0.0.0.0", "224.0.0.1", "::1", "::", "fe80::1", "fe80::1%eth0", "fd00::1", "fc00::5",
    "ff02::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "not an address",
  ];
  const external = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2001:4860:4860::8888", "::ffff:8.8.8.8"];
  for (const a of internal) assert.equal(isInternalAddress(a), true, a);
  for (const a of external) assert.equal(isInternalAddress(a), false, a);
});

test("recogniseDependency", () => {
  const cases: [string, string, Partial<DependencyInstall> | null][] = [
    ["registry.example.test", "/left-pad/-/left-pad-1.3.0.tgz", { ecosystem: "npm", name: "left-pad", version: "1.3.0" }],
    ["registry.example.test", "/@types/node/-/node-24.1.0.tgz", { ecosystem: "npm", name: "@types/node", version: "24.1.0" }],
    ["registry.example.test", "/left-pad", null],
    ["files.pythonhosted.org", "/packages/ab/cd/ef/requests-2.31.0-py3-none-any.whl", { ecosystem: "pypi", name: "requests", version: "2.31.0" }],
    ["files.pythonhosted.org", "/packages/ab/cd/python-dateutil-2.8.2.tar.gz", { ecosystem: "pypi", name: "python-dateutil", version: "2.8.2" }],
    ["files.pythonhosted.org", "/packages/ab/Typing_Extensions-4.9.0-py3-none-any.whl", { ecosystem: "pypi", name: "typing-extensions", version: "4.9.0" }],
    ["crates.io", "/api/v1/crates/serde/1.0.195/download", { ecosystem: "crates", name: "serde", version: "1.0.195" }],
    ["static.crates.io", "/crates/serde/serde-1.0.195.crate", { ecosystem: "crates", name: "serde", version: "1.0.195" }],
    ["proxy.golang.org", "/github.com/!burnt!sushi/toml/@v/v1.3.2.zip", { ecosystem: "go", name: "github.com/BurntSushi/toml", version: "v1.3.2" }],
    ["proxy.golang.org", "/github.com/pkg/errors/@v/v0.9.1.mod", null],
    ["repo1.maven.org", "/maven2/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.jar", { ecosystem: "maven", name: "org.slf4j:slf4j-api", version: "2.0.9" }],
    ["repo1.maven.org", "/maven2/org/slf4j/slf4j-api/2.0.9/slf4j-api-2.0.9.pom", null],
    ["rubygems.org", "/gems/rack-3.0.8.gem", { ecosystem: "rubygems", name: "rack", version: "3.0.8" }],
    ["rubygems.org", "/gems/nokogiri-1.15.4-x86_64-linux.gem", { ecosystem: "rubygems", name: "nokogiri", version: "1.15.4" }],
    ["mirror.example.test", "/debian/pool/main/c/curl/curl_7.88.1-10+deb12u5_amd64.deb", { ecosystem: "debian", name: "curl", version: "7.88.1-10+deb12u5" }],
    ["mirror.example.test", "/debian/pool/main/s/systemd/libsystemd0_252.22-1~deb12u1_amd64.deb", { ecosystem: "debian", name: "libsystemd0", version: "252.22-1~deb12u1" }],
    ["example.org", "/index.html", null],
  ];
  for (const [host, path, want] of cases) {
    const got = recogniseDependency(host, path);
    if (want === null) assert.equal(got, null, path);
    else assert.deepEqual(got, { ...want, host, url: `http://${host}${path}` }, path);
  }
});

test("hostAllowed: wildcards, ports, presets, IP literals", () => {
  const rule = { hosts: ["*.example.org", "api.bosun.test:8443", "[::1]:9000", "10.0.0.5"], presets: ["pypi"] };
  assert.equal(hostAllowed(rule, "a.example.org", 443).allowed, true);
  assert.equal(hostAllowed(rule, "deep.a.example.org", 80).allowed, true);
  assert.equal(hostAllowed(rule, "example.org", 443).allowed, false);
  assert.equal(hostAllowed(rule, "badexample.org", 443).allowed, false);
  assert.equal(hostAllowed(rule, "a.example.org", 22).allowed, false);
  assert.match(hostAllowed(rule, "a.example.org", 22).reason, /not on port 22 \(allowed ports: 80, 443\)/);
  assert.equal(hostAllowed(rule, "API.bosun.test.", 8443).allowed, true);
  assert.equal(hostAllowed(rule, "api.bosun.test", 443).allowed, false);
  assert.equal(hostAllowed(rule, "[::1]", 9000).allowed, true);
  assert.equal(hostAllowed(rule, "0:0:0:0:0:0:0:1", 9000).allowed, true);
  assert.equal(hostAllowed(rule, "10.0.0.5", 80).allowed, true);
  assert.match(hostAllowed(rule, "files.pythonhosted.org", 443).reason, /preset pypi/);
  assert.equal(hostAllowed(rule, "pythonhosted.org", 443).allowed, false);
  assert.deepEqual(hostAllowed(rule, "evil.example", 443), {
    allowed: false,
    reason: '"evil.example" is not in the allowlist (policy: network.hosts / presets)',
  });
});

test("expandPresets", () => {
  assert.deepEqual(expandPresets(["go", "pypi"]), ["proxy.golang.org", "sum.golang.org", "pypi.org", "files.pythonhosted.org"]);
  const previous = process.env["npm_config_registry"];
  process.env["npm_config_registry"] = "https://npm.mirror.example.test/";
  try {
    assert.deepEqual(expandPresets(["npm"]), ["npm.mirror.example.test"], "the npm preset is this host's configured registry");
  } finally {
    if (previous === undefined) delete process.env["npm_config_registry"];
    else process.env["npm_config_registry"] = previous;
  }
  assert.throws(() => expandPresets(["cpan"]), { message: '[bosun/egress] unknown preset "cpan"' });
});

// Name lookups: one in flight per host, answers kept for a while (src/sandbox/egress/names.ts).

interface Resolver {
  calls: string[];
  answer: (host: string) => Promise<string[]>;
}

/** A proxy whose names resolve through `answer`, counted, on a clock the test moves. */
async function cachingProxy(name: string, answer: (host: string, call: number) => Promise<string[]>, hosts: string[]) {
  let clock = 1_000_000;
  const r: Resolver = { calls: [], answer: (host) => answer(host, r.calls.push(host)) };
  const p = await startEgressProxy({
    socketPath: join(dir, `${name}.sock`),
    // An IP literal listed on a port makes that address explicit there: the resolver's 127.0.0.1 is reachable on echoPort only.
    rule: { hosts: [...hosts, `127.0.0.1:${echoPort}`], presets: [] },
    resolve: r.answer,
    connectTimeoutMs: 500,
    nameCache: { now: () => clock },
  });
  return { p, r, advance: (ms: number) => (clock += ms) };
}

async function connectStatus(target: string, socketPath: string): Promise<{ status: number; body: string }> {
  const { status, socket, head } = await connect(target, socketPath);
  if (status !== 200) return { status, body: await readAll(socket, head) };
  const all = readAll(socket, head);
  socket.end("ping");
  return { status, body: await all };
}

test("concurrent CONNECTs to one host share one lookup, and its answer serves the next ones", async () => {
  const { p, r } = await cachingProxy("coalesce", async () => {
    await new Promise((res) => setTimeout(res, 50));
    return ["127.0.0.1"];
  }, [`cached.bosun.test:${echoPort}`]);
  try {
    const results = await Promise.all(Array.from({ length: 40 }, () => connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)));
    assert.deepEqual(new Set(results.map((x) => `${x.status} ${x.body}`)), new Set(["200 ping"]));
    assert.deepEqual(r.calls, ["cached.bosun.test"], "one lookup for 40 concurrent connections");
    assert.equal((await connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)).status, 200);
    assert.equal(r.calls.length, 1, "a later connection within the TTL uses the kept answer");
  } finally {
    await p.close();
  }
});

test("an answer is looked up again once its 30 s are over", async () => {
  const { p, r, advance } = await cachingProxy("expiry", () => Promise.resolve(["127.0.0.1"]), [`cached.bosun.test:${echoPort}`]);
  try {
    assert.equal((await connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)).status, 200);
    advance(29_000);
    assert.equal((await connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)).status, 200);
    assert.equal(r.calls.length, 1);
    advance(2_000);
    assert.equal((await connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)).status, 200);
    assert.equal(r.calls.length, 2, "expired: looked up again");
  } finally {
    await p.close();
  }
});

test("a failed lookup is kept for a moment only, then the name is looked up again", async () => {
  const { p, r, advance } = await cachingProxy("negative", (host, call) =>
    call === 1 ? Promise.reject(Object.assign(new Error(`getaddrinfo EAI_AGAIN ${host}`), { code: "EAI_AGAIN" })) : Promise.resolve(["127.0.0.1"]),
  [`flaky.bosun.test:${echoPort}`]);
  try {
    const first = await connectStatus(`flaky.bosun.test:${echoPort}`, p.socketPath);
    assert.equal(first.status, 502);
    assert.match(first.body, /could not resolve "flaky\.bosun\.test": getaddrinfo EAI_AGAIN/);
    const again = await connectStatus(`flaky.bosun.test:${echoPort}`, p.socketPath);
    assert.equal(again.status, 502);
    assert.equal(r.calls.length, 1, "within the negative TTL the failure is answered from memory");
    advance(2_001);
    assert.equal((await connectStatus(`flaky.bosun.test:${echoPort}`, p.socketPath)).status, 200, "retried after the negative TTL");
    assert.equal(r.calls.length, 2);
  } finally {
    await p.close();
  }
});

test("a lookup that hangs times out, and the next one after the negative TTL is a fresh lookup", async () => {
  const { p, r, advance } = await cachingProxy("hang", (_host, call) => (call === 1 ? new Promise<string[]>(() => {}) : Promise.resolve(["127.0.0.1"])), [`slow.bosun.test:${echoPort}`]);
  try {
    const [a, b] = await Promise.all([0, 1].map(() => connectStatus(`slow.bosun.test:${echoPort}`, p.socketPath)));
    assert.deepEqual([a?.status, b?.status], [502, 502]);
    assert.match(a?.body ?? "", /resolving "slow\.bosun\.test" timed out after 500 ms/);
    assert.equal(r.calls.length, 1);
    advance(2_001);
    assert.equal((await connectStatus(`slow.bosun.test:${echoPort}`, p.socketPath)).status, 200);
    assert.equal(r.calls.length, 2);
  } finally {
    await p.close();
  }
});

test("when looking an expired name up fails, the last answer stands in (and says so)", async () => {
  const seen: NetworkEvent[] = [];
  const { p, r, advance } = await cachingProxy("stale", (host, call) =>
    call === 1 ? Promise.resolve(["127.0.0.1"]) : Promise.reject(new Error(`getaddrinfo EAI_AGAIN ${host}`)),
  [`cached.bosun.test:${echoPort}`]);
  try {
    assert.equal((await connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)).status, 200);
    advance(60_000);
    assert.equal((await connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)).status, 200);
    assert.equal(r.calls.length, 2);
    await new Promise((res) => setTimeout(res, 20));
    seen.push(...p.events());
    assert.match(seen.at(-1)?.reason ?? "", /resolving failed \(getaddrinfo EAI_AGAIN cached\.bosun\.test\), so the last answer \(60 s old\) was used/);
    advance(600_000);
    assert.equal((await connectStatus(`cached.bosun.test:${echoPort}`, p.socketPath)).status, 502, "too old to stand in");
  } finally {
    await p.close();
  }
});

test("a kept answer inside Bosun's network is refused every time, without another lookup", async () => {
  // 127.0.0.1 is listed explicitly on echoPort only; on httpPort the resolver's loopback answer is refused.
  const { p, r } = await cachingProxy("refused", () => Promise.resolve(["127.0.0.1"]), [`cached.bosun.test:${httpPort}`]);
  try {
    for (let i = 0; i < 3; i++) {
      const got = await connectStatus(`cached.bosun.test:${httpPort}`, p.socketPath);
      assert.equal(got.status, 403);
      assert.match(got.body, /"cached\.bosun\.test" resolves to 127\.0\.0\.1, inside Bosun's own network/);
    }
    assert.equal(r.calls.length, 1);
  } finally {
    await p.close();
  }
});
