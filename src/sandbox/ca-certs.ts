// Extra certificate authorities every sandbox phase trusts (BOSUN_SANDBOX_CA_CERTS): for a company
// whose hosts reach package registries through a TLS-inspecting proxy with a CA of its own.
//
// Two files, built on Bosun's host at start-up from the operator's PEM bundle, are bound read-only
// into every phase container at /bosun/ca:
// - extra.pem: the operator's certificates alone, for NODE_EXTRA_CA_CERTS, which ADDS to Node's
//   built-in roots;
// - bundle.pem: the operator's certificates plus Node's bundled Mozilla root store
//   (`tls.rootCertificates`), for the variables that REPLACE a tool's default trust store
//   (SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO, PIP_CERT, npm's cafile,
//   CARGO_HTTP_CAINFO). Pointing those at the operator's file alone would make every public site
//   untrusted. The image's own bundle is inside the image, under a read-only root filesystem, at
//   a path that differs between distributions (a wrapper would have to rebuild a copy in /tmp
//   before every command), and Bosun's own host holds whatever its system has. Node's copy of
//   Mozilla's list is always at hand, the same for every image, and is the list Debian's
//   ca-certificates packages too. What an image added to its own store
//   beyond Mozilla's list is not in bundle.pem: such CAs belong in the operator's bundle.
//
// The files go into BOSUN_WORK_DIR, which the Docker engine must see at the same path already (the
// egress sockets are bound from there), so the operator's bundle only has to be readable by Bosun:
// under Compose, a path inside Bosun's container. Only CERTIFICATE blocks are copied; a bundle
// holding a private key is refused, as it would otherwise sit next to the certificates.
import { createHash, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { rootCertificates } from "node:tls";

export const caVariable = "BOSUN_SANDBOX_CA_CERTS";
/** Where the folder is mounted in each sandbox container. */
export const sandboxCaDir = "/bosun/ca";
/** The folder under BOSUN_WORK_DIR; the sweep leaves it alone. */
export const caWorkDirName = "sandbox-ca";
const maxBundleBytes = 16 * 1024 * 1024;

export class SandboxCaError extends Error {}

/** What a phase gets when BOSUN_SANDBOX_CA_CERTS is set. */
export interface SandboxCa {
  /** The operator's file, as named in BOSUN_SANDBOX_CA_CERTS (recorded in transcripts; never its content). */
  source: string;
  /** How many distinct certificates it holds. */
  certificates: number;
  /** The host folder bound read-only at /bosun/ca. */
  hostDir: string;
}

/** The environment every phase container gets with extra CAs: each tool's own variable. */
export const sandboxCaEnv: Readonly<Record<string, string>> = Object.freeze({
  // Adds to Node's built-in roots (npm too, unless cafile below replaces them).
  NODE_EXTRA_CA_CERTS: `${sandboxCaDir}/extra.pem`,
  // These replace the tool's default store: the complete bundle.
  SSL_CERT_FILE: `${sandboxCaDir}/bundle.pem`, // OpenSSL (Python's ssl, Ruby, curl), Go
  REQUESTS_CA_BUNDLE: `${sandboxCaDir}/bundle.pem`, // Python requests
  CURL_CA_BUNDLE: `${sandboxCaDir}/bundle.pem`, // curl
  GIT_SSL_CAINFO: `${sandboxCaDir}/bundle.pem`, // git over https
  PIP_CERT: `${sandboxCaDir}/bundle.pem`, // pip
  npm_config_cafile: `${sandboxCaDir}/bundle.pem`, // npm (and npx)
  CARGO_HTTP_CAINFO: `${sandboxCaDir}/bundle.pem`, // cargo
});

const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/**
 * The certificates of a PEM bundle, each checked by parsing it as X.509; throws a message naming
 * BOSUN_SANDBOX_CA_CERTS and the file when it is missing, unreadable, not PEM, or holds a key.
 */
export async function readCaBundle(path: string): Promise<string[]> {
  const where = `${caVariable}=${path}`;
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > maxBundleBytes) throw new SandboxCaError(`${where}: the file is larger than ${maxBundleBytes / 1024 / 1024} MiB, which is no CA bundle`);
    text = buf.toString("utf8");
  } catch (e) {
    if (e instanceof SandboxCaError) throw e;
    const code = (e as { code?: string }).code;
    const why = code === "ENOENT" ? "no such file (under Docker Compose, the path is inside Bosun's container: bind the bundle there)"
      : code === "EACCES" ? "Bosun may not read it"
      : code === "EISDIR" ? "it is a folder; name a PEM file"
      : (e as Error).message;
    throw new SandboxCaError(`${where}: ${why}`, { cause: e });
  }
  const certs = new Map<string, string>();
  let n = 0;
  for (const m of text.matchAll(pemBlock)) {
    const label = m[1] ?? "";
    if (/PRIVATE KEY/.test(label)) throw new SandboxCaError(`${where}: the file holds a ${label}; a CA bundle holds certificates only, and it would be mounted into every sandbox`);
    if (label !== "CERTIFICATE") continue;
    n++;
    const body = (m[2] ?? "").replace(/\s+/g, "");
    const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)?.join("\n") ?? ""}\n-----END CERTIFICATE-----\n`;
    try {
      new X509Certificate(pem);
    } catch (e) {
      throw new SandboxCaError(`${where}: certificate ${n} in the file is not a valid X.509 certificate (${(e as Error).message})`, { cause: e });
    }
    certs.set(body, pem);
  }
  if (certs.size === 0) throw new SandboxCaError(`${where}: the file holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`);
  return [...certs.values()];
}

/**
 * Validates the operator's bundle and writes extra.pem and bundle.pem under the work folder;
 * null when BOSUN_SANDBOX_CA_CERTS is unset. Run at start-up, so a bad setting stops Bosun.
 */
export async function prepareSandboxCa(source: string | undefined, workDir: string): Promise<SandboxCa | null> {
  if (source === undefined) return null;
  const extra = await readCaBundle(source);
  const seen = new Set(extra.map(bodyOf));
  const mozilla = rootCertificates.filter((c) => !seen.has(bodyOf(c))).map((c) => (c.endsWith("\n") ? c : `${c}\n`));
  const hostDir = join(workDir, caWorkDirName);
  await mkdir(hostDir, { recursive: true, mode: 0o755 });
  await chmod(hostDir, 0o755);
  // Replaced whole (a rename), so a container bound to the folder never reads half a file.
  for (const [name, content] of [["extra.pem", extra.join("")], ["bundle.pem", [...extra, ...mozilla].join("")]] as const) {
    const tmp = join(hostDir, `.${name}.${createHash("sha256").update(content).digest("hex").slice(0, 12)}.${process.pid}`);
    await writeFile(tmp, content, { mode: 0o644 });
    await chmod(tmp, 0o644);
    await rename(tmp, join(hostDir, name));
  }
  return { source, certificates: extra.length, hostDir };
}

function bodyOf(pem: string): string {
  return pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
}

/** The read-only bind of the folder, as Docker takes it. */
export function sandboxCaBind(ca: SandboxCa): string {
  return `${ca.hostDir}:${sandboxCaDir}:ro`;
}
