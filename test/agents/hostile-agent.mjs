#!/usr/bin/env node
// A hostile agent for the sandbox tests. It tries to get out in every way listed in the sandbox
// issue and reports each attempt as a JSONL event `{"type":"tool_result","tool":"escape",...}`
// with `escaped: true|false`. It aims only at loopback, at names, and at addresses it finds in
// its own routing table (none, with network `none`); never at public or other private addresses.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, readdirSync } from "node:fs";
import { connect } from "node:net";
import { lookup } from "node:dns/promises";

const report = (attempt, escaped, detail) =>
  process.stdout.write(JSON.stringify({ type: "tool_result", tool: "escape", attempt, escaped, detail: String(detail).slice(0, 500) }) + "\n");

function tcp(host, port, ms = 1500) {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok, why) => { s.destroy(); resolve({ ok, why }); };
    s.setTimeout(ms, () => done(false, "timeout"));
    s.on("connect", () => done(true, "connected"));
    s.on("error", (e) => done(false, e.code ?? e.message));
  });
}

// 1. The Docker socket.
for (const p of ["/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"]) {
  report(`docker socket ${p}`, existsSync(p), existsSync(p) ? "present" : "absent");
}

// 2. Writing outside the workspace.
for (const p of ["/etc/bosun-was-here", "/usr/bin/bosun-was-here", "/bosun-was-here", "/var/tmp/bosun-was-here"]) {
  try {
    writeFileSync(p, "x");
    report(`write ${p}`, true, "written");
  } catch (e) {
    report(`write ${p}`, false, e.code);
  }
}

// 3. Root and capabilities.
const status = readFileSync("/proc/self/status", "utf8");
const capEff = /CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? "?";
// gVisor's /proc does not report NoNewPrivs; `docker inspect` shows the setting either way.
const noNewPrivs = /NoNewPrivs:\s*(\d)/.exec(status)?.[1] ?? "not reported";
report("running as root", process.getuid() === 0, `uid ${process.getuid()}`);
report("effective capabilities", !/^0+$/.test(capEff), `CapEff ${capEff}`);
report("no_new_privs unset", noNewPrivs === "0", `NoNewPrivs ${noNewPrivs}`);
// Root inside a new user namespace (gVisor allows one, runc's seccomp profile does not) must
// still not be able to touch the container's own root-owned files.
const unshare = spawnSync("unshare", ["-r", "sh", "-c", "cat /etc/shadow >/dev/null 2>&1 && echo READ; touch /etc/bosun-was-here 2>/dev/null && echo WROTE; id -u"], { encoding: "utf8" });
report("root over the container's files through a user namespace", /READ|WROTE/.test(unshare.stdout), (unshare.stdout || unshare.stderr || unshare.error?.code || "").trim().replace(/\n/g, " "));
const su = spawnSync("su", ["-c", "id -u"], { encoding: "utf8", input: "\n", timeout: 3000 });
report("su to root", su.status === 0 && su.stdout.trim() === "0", (su.stderr || "").trim() || `exit ${su.status}`);

// 4. The host's environment and files.
const leaked = Object.entries(process.env).filter(([k, v]) => /token|secret|password|private|database_url/i.test(k) || /ghs_|ghp_|BEGIN RSA/.test(v ?? ""));
report("secrets in the environment", leaked.length > 0, leaked.map(([k]) => k).join(",") || "none");
let shadow;
try { readFileSync("/etc/shadow"); shadow = "readable"; } catch (e) { shadow = e.code; }
report("read /etc/shadow", shadow === "readable", shadow);
const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n").filter(Boolean).map((l) => l.split(" ")[1]);
const unexpected = mounts.filter((m) => !/^(\/|\/proc.*|\/dev.*|\/sys.*|\/tmp|\/home\/agent|\/workspace|\/bosun|\/bosun\/egress\.sock|\/etc\/(hosts|hostname|resolv\.conf))$/.test(m));
report("host paths mounted", unexpected.length > 0, unexpected.join(",") || "only the sandbox's own");
let hostPid1;
try { hostPid1 = readFileSync("/proc/1/cmdline", "utf8").replace(/\0/g, " ").trim(); } catch (e) { hostPid1 = e.code; }
report("see the host's processes", readdirSync("/proc").filter((d) => /^\d+$/.test(d)).length > 64, `pid 1 is: ${hostPid1}`);

// 5. The network: routing table, host names, loopback ports Bosun and its peers use on the host.
const routes = readFileSync("/proc/net/route", "utf8").trim().split("\n").slice(1).filter(Boolean);
const ifaces = readdirSync("/sys/class/net");
report("network interfaces besides loopback", ifaces.some((i) => i !== "lo"), ifaces.join(","));
report("routes in the routing table", routes.length > 0, `${routes.length} route(s)`);
for (const name of ["host.docker.internal", "gateway.docker.internal", "localhost.localdomain"]) {
  try {
    const addrs = await lookup(name, { all: true });
    report(`resolve ${name}`, addrs.some((a) => !a.address.startsWith("127.") && a.address !== "::1"), addrs.map((a) => a.address).join(","));
  } catch (e) {
    report(`resolve ${name}`, false, e.code);
  }
}
const ports = (process.env.HOSTILE_PORTS ?? "").split(",").filter(Boolean).map(Number);
for (const port of [5432, 3000, ...ports]) {
  const r = await tcp("127.0.0.1", port);
  report(`tcp 127.0.0.1:${port}`, r.ok, r.why);
}

// 6. Fork bomb: the process limit stops it. (Under gVisor, exhausting the sandbox's limits can end
// the whole sandbox instead; each destructive attempt is announced first so the transcript shows it.)
report("fork bomb (5000 processes)", false, "starting");
// In its own session (setsid), so that `kill 0` ends the bomb and not the agent.
const bomb = spawnSync("setsid", ["sh", "-c", "i=0; while [ $i -lt 5000 ]; do sleep 30 & i=$((i+1)); done 2>/dev/null; echo started $i; kill 0 2>/dev/null"], { encoding: "utf8", timeout: 60000 });
const started = /started (\d+)/.exec(bomb.stdout)?.[1];
report("fork bomb (5000 processes)", started === "5000", started ? `started ${started}` : `stopped early: ${(bomb.stderr || "").split("\n")[0] || bomb.signal || bomb.status}`);

// 7. Eat memory: a child that allocates until it dies; the limit kills it, not the host.
report("eat memory", false, "starting");
const hog = spawnSync("node", ["-e", "const a=[]; for(;;){ a.push(Buffer.alloc(64*1024*1024, 1)); }"], { encoding: "utf8", timeout: 60000 });
report("eat memory", hog.status === 0, `child ended: ${hog.signal ?? `exit ${hog.status}`}`);

// 8. Outlive the timeout: the last attempt; Bosun must stop the container.
report("outlive the timeout", false, "sleeping until stopped");
writeFileSync("/bosun/result.json", JSON.stringify({ summary: "hostile agent finished its attempts" }));
spawn("sleep", ["3600"], { stdio: "ignore" }).on("exit", () => process.exit(0));
execFileSync("sleep", ["3600"]);
