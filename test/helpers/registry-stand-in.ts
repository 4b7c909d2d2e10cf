// An npm registry stand-in on the host's loopback with one package, left-pad@1.3.0, reached from
// sandboxes as registry.bosun.test:<port> (pinned to 127.0.0.1 in the org's policy). It counts the
// tarball downloads, so a test can tell whether setup installed again.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const standInHost = "registry.bosun.test";

/** The org policy's lines (under `sandbox.phases.<phase>:`) that let a phase reach the stand-in. */
export function standInPhaseRules(port: number): string[] {
  return ["      network: allowlist", `      hosts: ["${standInHost}:${port}"]`, `      addresses: { ${standInHost}: 127.0.0.1 }`];
}

export interface RegistryStandIn {
  port: number;
  /** Paths asked for, in order. */
  requests: string[];
  /** How many times the package's tarball was downloaded. */
  downloads(): number;
  /** A package-lock.json (lockfileVersion 3) for a package `name` depending on left-pad from here. */
  lockfile(name: string, version?: string): string;
  close(): Promise<void>;
}

export async function registryStandIn(): Promise<RegistryStandIn> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-registry-"));
  await mkdir(join(dir, "package"));
  await writeFile(join(dir, "package", "package.json"), JSON.stringify({ name: "left-pad", version: "1.3.0", main: "index.js" }));
  await writeFile(join(dir, "package", "index.js"), "module.exports = (s, n) => String(s).padStart(n);\n");
  execFileSync("tar", ["-C", dir, "-czf", join(dir, "left-pad-1.3.0.tgz"), "package"]);
  const tarball = await readFile(join(dir, "left-pad-1.3.0.tgz"));
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  const tarballPath = "/left-pad/-/left-pad-1.3.0.tgz";
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.url === "/left-pad") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({
        name: "left-pad", "dist-tags": { latest: "1.3.0" },
        versions: { "1.3.0": { name: "left-pad", version: "1.3.0", dist: { tarball: `http://${standInHost}:${port()}${tarballPath}`, integrity } } },
      }));
    } else if (req.url === tarballPath) {
      res.setHeader("content-type", "application/octet-stream");
      res.end(tarball);
    } else {
      res.statusCode = 404;
      res.end("{}");
    }
  });
  const port = (): number => (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: port(),
    requests,
    downloads: () => requests.filter((r) => r === tarballPath).length,
    lockfile: (name, version = "1.0.0") => `${JSON.stringify({
      name, version, lockfileVersion: 3, requires: true,
      packages: {
        "": { name, version, dependencies: { "left-pad": "1.3.0" } },
        "node_modules/left-pad": { version: "1.3.0", resolved: `http://${standInHost}:${port()}${tarballPath}`, integrity },
      },
    }, null, 2)}\n`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
