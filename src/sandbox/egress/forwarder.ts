// The forwarder inside an `allowlist` sandbox: an ordinary HTTP proxy address on the container's
// loopback (127.0.0.1:3128) whose every connection is passed to the egress proxy's Unix socket,
// bind-mounted at /bosun/egress/sock.
//
// It is one Node process for all connections. It used to be `socat TCP-LISTEN:…,fork`, one process
// per connection, and that stopped a real install: npm 9 (Debian's, in the agent base) opens a new
// CONNECT for nearly every request through a proxy and keeps each tunnel open until it exits, so an
// install of ~375 packages held ~375 socat processes at once against the sandbox's process limit
// (`BOSUN_SANDBOX_PIDS`, 512 by default, threads included). When fork() failed with EAGAIN, the
// listening socat logged `E fork(): Resource temporarily unavailable` and exited, and every later
// connection got `ECONNREFUSED 127.0.0.1:3128`; the phase's own processes were starved as well.
//
// An image without Node falls back to socat with `max-children` at half the process limit: once
// that many connections are open, the next ones wait in the listen backlog for one to close,
// instead of the listener exiting.

export const forwarderPort = 3128;
export const forwarderUrl = `http://127.0.0.1:${forwarderPort}`;
/** The exit status when the image has neither Node nor socat: the allowlist needs one of them inside the container. */
export const noForwarderStatus = 97;

const socketPath = "/bosun/egress/sock";
/** Where the forwarder says it listens; the phase's command waits for it. */
const readyFile = "/tmp/.bosun-forwarder-ready";

/**
 * The forwarder's source (CommonJS, for any Node the image has, 12 and later). Half-closes pass
 * through (a client's FIN reaches the proxy and back), an error on either side ends both.
 */
export const forwarderSource = `
const net = require("net");
const fs = require("fs");
const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
  const up = net.connect({ path: ${JSON.stringify(socketPath)}, allowHalfOpen: true });
  const both = () => { client.destroy(); up.destroy(); };
  client.on("error", both);
  up.on("error", both);
  client.on("close", () => { if (!up.writableEnded) up.destroy(); });
  up.on("close", () => { if (!client.writableEnded) client.destroy(); });
  up.on("connect", () => { client.pipe(up); up.pipe(client); client.resume(); });
});
server.on("error", (e) => { console.error("bosun forwarder: " + e.message); process.exit(1); });
server.listen({ host: "127.0.0.1", port: ${forwarderPort}, backlog: 511 }, () => fs.writeFileSync(${JSON.stringify(readyFile)}, String(process.pid)));
`;

/**
 * A shell script that starts the forwarder in the background, waits up to 5 s for it to listen,
 * runs `$BOSUN_PHASE_COMMAND` and exits with its status. `BOSUN_FORWARDER` must hold
 * `forwarderSource`; it is unset before the command runs.
 */
export function forwarderScript(o: { pids: number }): string {
  const maxChildren = Math.max(8, Math.floor(o.pids / 2));
  return [
    `rm -f ${readyFile}`,
    "if command -v node >/dev/null 2>&1; then",
    `  node -e "$BOSUN_FORWARDER" &`,
    `  i=0; while [ $i -lt 50 ] && [ ! -e ${readyFile} ]; do sleep 0.1; i=$((i+1)); done`,
    "elif command -v socat >/dev/null 2>&1; then",
    `  socat TCP-LISTEN:${forwarderPort},bind=127.0.0.1,fork,reuseaddr,backlog=511,max-children=${maxChildren} UNIX-CONNECT:${socketPath} 2>/dev/null &`,
    `  i=0; while [ $i -lt 50 ] && ! socat -u /dev/null TCP:127.0.0.1:${forwarderPort} 2>/dev/null; do sleep 0.1; i=$((i+1)); done`,
    "else",
    `  echo "bosun: this image has neither node nor socat, one of which the network allowlist needs inside the sandbox" >&2; exit ${noForwarderStatus}`,
    "fi",
    "forwarder=$!",
    "unset BOSUN_FORWARDER",
    'sh -c "$BOSUN_PHASE_COMMAND"; status=$?; kill $forwarder 2>/dev/null; exit $status',
  ].join("\n");
}

/** The settings that point the usual tools at the forwarder. */
export const forwarderEnv: Record<string, string> = {
  HTTP_PROXY: forwarderUrl, HTTPS_PROXY: forwarderUrl, http_proxy: forwarderUrl, https_proxy: forwarderUrl,
  NO_PROXY: "localhost,127.0.0.1,::1", no_proxy: "localhost,127.0.0.1,::1",
  npm_config_proxy: forwarderUrl, npm_config_https_proxy: forwarderUrl, PIP_PROXY: forwarderUrl,
  GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "http.proxy", GIT_CONFIG_VALUE_0: forwarderUrl,
  BOSUN_FORWARDER: forwarderSource,
};
