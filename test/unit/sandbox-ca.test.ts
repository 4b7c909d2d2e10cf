// BOSUN_SANDBOX_CA_CERTS: the bundle's checks at start-up (each message names the variable), the
// two files Bosun writes, and what a phase container is given (the environment and a read-only
// bind), with the transcript's record of it, under network `none` and `allowlist`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { readEnv } from "../../src/config/env.ts";
import { Redactor } from "../../src/audit/redactor.ts";
import { caWorkDirName, prepareSandboxCa, readCaBundle, sandboxCaEnv, SandboxCaError } from "../../src/sandbox/ca-certs.ts";
import { runAsPhase, type BoundContainerSpec } from "../../src/sandbox/phase.ts";
import type { RunOutcome, RunSpec } from "../../src/sandbox/sandbox.ts";
import type { PhasePolicy } from "../../src/config/org-policy.ts";
import type { RunContext } from "../../src/runs/run-context.ts";
import { runPhase } from "../../src/runs/run-phase.ts";

// Two certificates the test does not make itself: Node's first two Mozilla roots.
const [certA = "", certB = ""] = rootCertificates;

async function scratch(t: { after: (f: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "bosun-ca-unit-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test("the setting is a path, optional; an empty value is none", () => {
  assert.equal(readEnv({}).BOSUN_SANDBOX_CA_CERTS, undefined);
  assert.equal(readEnv({ BOSUN_SANDBOX_CA_CERTS: "" }).BOSUN_SANDBOX_CA_CERTS, undefined);
  assert.equal(readEnv({ BOSUN_SANDBOX_CA_CERTS: "/etc/bosun/ca.pem" }).BOSUN_SANDBOX_CA_CERTS, "/etc/bosun/ca.pem");
});

test("a bundle that is missing, not PEM, broken or holds a key is refused with the variable's name", async (t) => {
  const dir = await scratch(t);
  const refused = async (path: string, why: RegExp): Promise<void> => {
    await assert.rejects(readCaBundle(path), (e: unknown) => {
      assert.ok(e instanceof SandboxCaError, String(e));
      assert.match(e.message, new RegExp(`^BOSUN_SANDBOX_CA_CERTS=${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
      assert.match(e.message, why);
      return true;
    });
    await assert.rejects(prepareSandboxCa(path, dir), SandboxCaError, "start-up refuses it too");
  };
  await refused(join(dir, "nowhere.pem"), /no such file/);
  await refused(dir, /it is a folder/);
  await writeFile(join(dir, "text.pem"), "just some text\n");
  await refused(join(dir, "text.pem"), /holds no PEM certificate/);
  await writeFile(join(dir, "empty.pem"), "");
  await refused(join(dir, "empty.pem"), /holds no PEM certificate/);
  await writeFile(join(dir, "broken.pem"), `${certA}\n-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n`);
  await refused(join(dir, "broken.pem"), /certificate 2 in the file is not a valid X\.509 certificate/);
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  await writeFile(join(dir, "with-key.pem"), `${certA}\n${privateKey.export({ type: "pkcs8", format: "pem" }).toString()}`);
  await refused(join(dir, "with-key.pem"), /holds a PRIVATE KEY; a CA bundle holds certificates only/);
  if (process.getuid?.() !== 0) {
    await writeFile(join(dir, "secret.pem"), certA);
    await chmod(join(dir, "secret.pem"), 0o000);
    await refused(join(dir, "secret.pem"), /Bosun may not read it/);
  }
  // Nothing was written for a refused bundle.
  await assert.rejects(stat(join(dir, caWorkDirName, "extra.pem")));
});

test("a good bundle: its certificates alone in extra.pem, and with Mozilla's roots in bundle.pem", async (t) => {
  const dir = await scratch(t);
  const source = join(dir, "corp.pem");
  // Comments and other blocks around the certificates, CRLF line ends, and one twice.
  await writeFile(source, `# corp proxy\r\n${certA.replace(/\n/g, "\r\n")}\r\nsubject=whatever\n${certB}\n${certA}\n-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n`);
  const ca = await prepareSandboxCa(source, join(dir, "work"));
  assert.ok(ca);
  assert.deepEqual({ ...ca }, { source, certificates: 2, hostDir: join(dir, "work", caWorkDirName) });
  const extra = await readFile(join(ca.hostDir, "extra.pem"), "utf8");
  const bundle = await readFile(join(ca.hostDir, "bundle.pem"), "utf8");
  const blocks = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  assert.equal(blocks(extra).length, 2);
  assert.ok(!extra.includes("CRL") && !extra.includes("#") && !extra.includes("\r"), "only certificates are copied");
  assert.equal(new X509Certificate(blocks(extra)[0] ?? "").fingerprint256, new X509Certificate(certA).fingerprint256);
  assert.equal(blocks(bundle).length, rootCertificates.length, "Mozilla's roots plus the extra ones, without duplicates");
  assert.ok(bundle.startsWith(extra));
  for (const f of ["extra.pem", "bundle.pem"]) assert.equal((await stat(join(ca.hostDir, f))).mode & 0o777, 0o644, `${f} is readable by the sandbox user`);
  assert.equal((await stat(ca.hostDir)).mode & 0o777, 0o755);
  // A second start writes the same files again.
  assert.deepEqual(await prepareSandboxCa(source, join(dir, "work")), ca);
  assert.equal(await prepareSandboxCa(undefined, join(dir, "work")), null);
});

/**
 * Just enough of a run's context for runPhase: the policy, a transcript and a sandbox that makes
 * each phase into its container as Docker's does, and records the container instead of starting it.
 */
async function fakeContext(dir: string, network: PhasePolicy["network"], sandboxCa: Awaited<ReturnType<typeof prepareSandboxCa>>): Promise<{ ctx: RunContext; specs: BoundContainerSpec[]; events: [string, Record<string, unknown>][] }> {
  const specs: BoundContainerSpec[] = [];
  const events: [string, Record<string, unknown>][] = [];
  const phase: PhasePolicy = { network, hosts: network === "allowlist" ? ["registry.npmjs.org"] : [], presets: [], addresses: {}, secrets: [], secrets_reach_agent_code: false };
  const outcome: RunOutcome = { exitCode: 0, timedOut: false, inactive: false, outputTail: "", containerId: "c", stdout: null };
  await mkdir(dir, { recursive: true });
  const ctx = {
    dir,
    run: { facts: {} },
    policy: { phases: { setup: phase, agent: phase, test: phase }, rules: { model: { api_key_secret: null } }, withheldSecrets: {} },
    sandboxSettings: { runtime: "runc", limits: { memoryBytes: 1, nanoCpus: 1, pids: 16 } },
    redactor: new Redactor(),
    transcript: { append: (kind: string, payload: Record<string, unknown>) => Promise.resolve(void events.push([kind, payload])) },
    log: { warn: () => undefined },
    deps: {
      sandboxCa,
      sandbox: { run: (spec: RunSpec) => runAsPhase(spec, (c) => Promise.resolve((specs.push(c), outcome))) },
      store: { recordSandboxTime: () => Promise.resolve() },
    },
  } as unknown as RunContext;
  return { ctx, specs, events };
}

test("each phase gets the variables and the read-only bind, and the transcript says so (path and count only)", async (t) => {
  const dir = await scratch(t);
  const source = join(dir, "corp.pem");
  await writeFile(source, certA + certB);
  const ca = await prepareSandboxCa(source, join(dir, "work"));
  assert.ok(ca);
  const bind = `${join(dir, "work", caWorkDirName)}:/bosun/ca:ro`;
  assert.deepEqual({ ...sandboxCaEnv }, {
    NODE_EXTRA_CA_CERTS: "/bosun/ca/extra.pem",
    SSL_CERT_FILE: "/bosun/ca/bundle.pem", REQUESTS_CA_BUNDLE: "/bosun/ca/bundle.pem", CURL_CA_BUNDLE: "/bosun/ca/bundle.pem",
    GIT_SSL_CAINFO: "/bosun/ca/bundle.pem", PIP_CERT: "/bosun/ca/bundle.pem", npm_config_cafile: "/bosun/ca/bundle.pem", CARGO_HTTP_CAINFO: "/bosun/ca/bundle.pem",
  });

  for (const network of ["none", "allowlist"] as const) {
    const { ctx, specs, events } = await fakeContext(join(dir, `run-${network}`), network, ca);
    for (const phase of ["setup", "agent", "test"] as const) {
      await runPhase(ctx, phase, { runId: "r", role: phase, attempt: 1, image: "bosun/agent-base:latest", command: "npm ci", env: { MINE: "1" }, volumes: {}, timeoutMs: 1000 });
    }
    assert.equal(specs.length, 3);
    for (const spec of specs) {
      for (const [k, v] of Object.entries(sandboxCaEnv)) assert.equal(spec.env?.[k], v, `${network}/${spec.role}: ${k}`);
      assert.equal(spec.env?.["MINE"], "1", "the phase's own variables stay");
      assert.equal(spec.binds?.[0], bind, `${network}/${spec.role}: the CA folder, read-only`);
      if (network === "allowlist") {
        assert.equal(spec.binds?.length, 2);
        assert.match(spec.binds?.[1] ?? "", /:\/bosun\/egress:ro$/);
        assert.equal(spec.env?.["HTTPS_PROXY"], "http://127.0.0.1:3128");
      } else {
        assert.equal(spec.binds?.length, 1);
      }
    }
    const trusted = events.filter(([kind, p]) => kind === "policy_decision" && p["rule"] === "sandbox.ca_certs").map(([, p]) => p);
    assert.deepEqual(trusted.map((p) => [p["phase"], p["decision"], p["source"], p["certificates"], p["mounted_at"]]), [
      ["setup", "trusted", source, 2, "/bosun/ca"], ["agent", "trusted", source, 2, "/bosun/ca"], ["test", "trusted", source, 2, "/bosun/ca"],
    ]);
    assert.ok(!JSON.stringify(events).includes("BEGIN CERTIFICATE"), "no certificate's content in the transcript");
  }

  // Without the setting: none of it.
  const { ctx, specs, events } = await fakeContext(join(dir, "run-plain"), "none", null);
  await runPhase(ctx, "setup", { runId: "r", role: "setup", attempt: 1, image: "bosun/agent-base:latest", command: "npm ci", volumes: {}, timeoutMs: 1000 });
  assert.deepEqual(specs[0]?.binds, []);
  for (const k of Object.keys(sandboxCaEnv)) assert.equal(specs[0]?.env?.[k], undefined);
  assert.ok(!events.some(([kind, p]) => kind === "policy_decision" && p["rule"] === "sandbox.ca_certs"));
});
