// The deployment an org runs: docker/compose.yml brings up Postgres and the app image built from
// docker/Dockerfile, on this host's Docker engine through its socket. The offline GitHub stands in
// for GitHub on the Docker bridge's address; its webhooks reach Bosun through the published port on
// 127.0.0.1. A labelled issue must end in a pull request, made by a non-root Bosun in a container,
// with an egress proxy socket bound into a sandbox from the shared work folder.
//
// Images: the local node:24-bookworm-slim and bosun/postgres:15 (docker/node-base, docker/postgres-base,
// built here when missing, which needs root) and the agent image (docker/agent-base); the app image
// is tagged with a hash of what goes into it, so an unchanged tree is not built again.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { networkInterfaces, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { removeDeploymentSandboxes, freePort } from "../helpers/bosun-world.ts";
import { until } from "../helpers/bosun-process.ts";
import { startCheckedGitHub } from "../helpers/offline-github.ts";
import { approveHeldPushes } from "../helpers/approve-held-pushes.ts";
import { labelDemoIssue, seedDemoRepo } from "../helpers/seed.ts";

const root = new URL("../../", import.meta.url).pathname;
const composeFile = join(root, "docker/compose.yml");
const appRepo = "bosun/app";
const testImageLabel = "io.bosun.compose-test";

interface Ran { code: number; stdout: string; stderr: string }

function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: root, env: o.env ?? process.env, timeout: o.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && typeof err.code !== "number" ? `\n${err.message}` : "") });
    });
  });
}

async function must(what: string, cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(`${what} failed (${cmd} ${args.join(" ")}, exit ${r.code}):\n${(r.stdout + r.stderr).trim().split("\n").slice(-30).join("\n")}`);
  return r.stdout;
}

/** `docker compose` (v2) where the plugin exists, else Debian's `docker-compose` (1.29); BOSUN_COMPOSE overrides. */
async function findCompose(): Promise<string[]> {
  const chosen = process.env["BOSUN_COMPOSE"];
  if (chosen) return chosen.split(" ");
  if ((await run("docker", ["compose", "version"])).code === 0) return ["docker", "compose"];
  if ((await run("docker-compose", ["version"])).code === 0) return ["docker-compose"];
  throw new Error("[bosun/test] neither `docker compose` nor `docker-compose` works: install Debian's docker-compose (apt-get install docker-compose; scripts/setup.sh does it)");
}

async function imageExists(ref: string): Promise<boolean> {
  return (await run("docker", ["image", "inspect", ref])).code === 0;
}

/** Every file docker/Dockerfile copies, the Dockerfile and .dockerignore, and the base image's id. */
async function appImageHash(baseId: string): Promise<string> {
  const h = createHash("sha256").update(`base ${baseId}\n`);
  const files = ["package.json", "package-lock.json", "app.yml", ".dockerignore", "docker/Dockerfile"];
  for (const dir of ["src", "agents"]) {
    for (const e of await readdir(join(root, dir), { recursive: true, withFileTypes: true })) {
      if (e.isFile()) files.push(relative(root, join(e.parentPath, e.name)));
    }
  }
  for (const f of files.sort()) h.update(`== ${f}\n`).update(await readFile(join(root, f)));
  return h.digest("hex").slice(0, 12);
}

/** The address of the host on Docker's default bridge: a Docker network of this engine, reachable from containers. */
async function bridgeAddress(): Promise<string> {
  const out = await must("docker network inspect bridge", "docker", ["network", "inspect", "bridge", "--format", "{{range .IPAM.Config}}{{.Gateway}} {{end}}|{{index .Options \"com.docker.network.bridge.name\"}}"]);
  const [gateways = "", ifname = "docker0"] = out.trim().split("|");
  const gateway = gateways.trim().split(" ").find((g) => /^\d+\.\d+\.\d+\.\d+$/.test(g));
  if (gateway) return gateway;
  // Node lists no address of a bridge without carrier (no container on it yet): ask ip(8).
  const v4 = (networkInterfaces()[ifname] ?? []).find((a) => a.family === "IPv4")?.address
    ?? /\binet (\d+\.\d+\.\d+\.\d+)\//.exec((await run("ip", ["-4", "-o", "addr", "show", "dev", ifname])).stdout)?.[1];
  if (!v4) throw new Error(`[bosun/test] the Docker bridge ${ifname} has no IPv4 address`);
  return v4;
}

interface Inspected { Id: string; Config: { User: string }; HostConfig: { ReadonlyRootfs: boolean; CapDrop: string[] | null; SecurityOpt: string[] | null }; State: { Pid: number; Running: boolean; Health?: { Status: string } } }

async function inspect(id: string): Promise<Inspected> {
  const [info] = JSON.parse(await must("docker inspect", "docker", ["inspect", id])) as [Inspected];
  return info;
}

test("docker/compose.yml: Bosun's image, non-root, on Postgres from compose, turns a labelled issue into a pull request", { timeout: 1_200_000 }, async (t: TestContext) => {
  const started = Date.now();
  const compose = await findCompose();
  // Base images: built from Debian and npm when missing (root), a quick check otherwise.
  for (const recipe of ["node-base", "postgres-base"]) await must(`docker/${recipe}/build.sh`, "bash", [join(root, "docker", recipe, "build.sh")], { timeoutMs: 900_000 });
  for (const image of ["bosun/agent-base:latest"]) {
    assert.ok(await imageExists(image), `${image} is missing on this Docker engine: run bash docker/agent-base/build.sh (scripts/setup.sh does)`);
  }

  const baseId = (await must("docker image inspect node:24-bookworm-slim", "docker", ["image", "inspect", "--format", "{{.Id}}", "node:24-bookworm-slim"])).trim();
  const appImage = `${appRepo}:compose-test-${await appImageHash(baseId)}`;
  if (!(await imageExists(appImage))) {
    const t0 = Date.now();
    // The legacy builder: Docker 20.10 here has no buildx plugin, and it takes FROM a local image as it is.
    await must("docker build -f docker/Dockerfile", "docker", ["build", "-f", "docker/Dockerfile", "--label", `${testImageLabel}=1`, "-t", appImage, "."], { env: { ...process.env, DOCKER_BUILDKIT: "0" }, timeoutMs: 900_000 });
    t.diagnostic(`built ${appImage} in ${Math.round((Date.now() - t0) / 1000)} s`);
    // Earlier test builds of the app image: this one replaces them.
    const old = (await must("docker images", "docker", ["images", "--filter", `label=${testImageLabel}=1`, "--format", "{{.Repository}}:{{.Tag}}"])).split("\n").filter((x) => x && x !== appImage && x.startsWith(`${appRepo}:compose-test-`));
    if (old.length) await run("docker", ["rmi", ...old]);
  }

  // The offline GitHub on the Docker bridge's address, where the Bosun container reaches it.
  const checked = await startCheckedGitHub(null, { host: await bridgeAddress() });
  const { gh } = checked;
  // Owen approves the change Bosun holds before pushing, as a second maintainer would.
  const approver = approveHeldPushes(gh);
  t.after(() => approver.stop());
  const project = `bosun-compose-test-${process.pid}`;
  const scratch = await mkdtemp(join(tmpdir(), "bosun-compose-"));
  await chmod(scratch, 0o755);
  const workDir = join(scratch, "work");
  const port = await freePort();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    COMPOSE_PROJECT_NAME: project,
    BOSUN_IMAGE: appImage,
    POSTGRES_IMAGE: "bosun/postgres:15",
    POSTGRES_PASSWORD: `pw${process.pid}x${Date.now()}`,
    DOCKER_GID: String((await stat("/var/run/docker.sock")).gid),
    BOSUN_WORK_DIR: workDir,
    BOSUN_PORT: String(port),
    APP_ID: String(gh.appId),
    PRIVATE_KEY: gh.privateKey,
    WEBHOOK_SECRET: gh.webhookSecret,
    GITHUB_API_URL: gh.url,
    GITHUB_URL: gh.webUrl,
    BOSUN_GITHUB_WRITE_INTERVAL_MS: "10",
    BOSUN_GITHUB_NOTIFY_INTERVAL_MS: "10",
  };
  const dc = (args: string[], timeoutMs?: number): Promise<Ran> => run(compose[0] ?? "docker", [...compose.slice(1), "-f", composeFile, "-p", project, ...args], { env, timeoutMs });
  const containerOf = async (service: string): Promise<string> => (await dc(["ps", "-q", service])).stdout.trim();
  const logs = async (): Promise<string> => {
    const r = await dc(["logs", "--no-color", "--tail", "60"]);
    return (r.stdout + r.stderr).trim();
  };

  t.after(async () => {
    // The sandboxes Bosun made are labelled with its instance, which only its database knows.
    const pg = await containerOf("postgres").catch(() => "");
    const instance = pg ? (await run("docker", ["exec", pg, "psql", "-X", "-q", "-t", "-A", "-U", "bosun", "-d", "bosun", "-c", "SELECT id FROM bosun_instance"])).stdout.trim() : "";
    const down = await dc(["down", "-v", "--remove-orphans", "--timeout", "20"], 120_000);
    await removeDeploymentSandboxes(instance || null);
    await rm(scratch, { recursive: true, force: true });
    await checked.close();
    assert.equal(down.code, 0, `compose down failed:\n${down.stdout}${down.stderr}`);
    assert.equal((await dc(["ps", "-q"])).stdout.trim(), "", "compose down left containers");
  });

  // The egress proxy's socket folder is bound into the setup sandbox from BOSUN_WORK_DIR: asking
  // the proxy for a host outside the allowlist proves the bind reached the container (the proxy
  // refuses and records it; nothing leaves the host).
  const probe = `node -e 'require("http").get({host:"127.0.0.1",port:3128,path:"http://evil.bosun.test/",headers:{host:"evil.bosun.test"}}, (r) => console.log("proxy answered", r.statusCode)).on("error", (e) => { console.log(e.message); process.exit(1); })'`;
  await seedDemoRepo(gh, "deployed", { protect: true, files: { ".github/bosun.yml": `setup:\n  command: ${JSON.stringify(probe)}\ntest:\n  command: npm test\n` } });

  const up = await dc(["up", "-d", "--no-build"], 300_000);
  assert.equal(up.code, 0, `compose up failed:\n${up.stdout}${up.stderr}\n${await logs()}`);
  const ids = { bosun: await containerOf("bosun"), postgres: await containerOf("postgres") };
  assert.ok(ids.bosun && ids.postgres, `compose runs both services (${JSON.stringify(ids)})`);
  for (const [service, id] of Object.entries(ids)) {
    await until(`${service} to be healthy`, async () => {
      const s = await inspect(id);
      if (!s.State.Running) throw new Error(`${service} stopped:\n${await logs()}`);
      return s.State.Health?.Status === "healthy";
    }, 120_000, 500).catch(async (e: unknown) => { throw new Error(`${String(e)}\n${await logs()}`); });
  }
  t.diagnostic(`compose up and both services healthy ${Math.round((Date.now() - started) / 1000)} s after the test started`);

  // Non-root: the image says so, and the process Docker started runs so.
  const bosun = await inspect(ids.bosun);
  assert.ok(bosun.Config.User !== "" && !/^(root|0)(:|$)/.test(bosun.Config.User), `Config.User is not root (${JSON.stringify(bosun.Config.User)})`);
  const status = await readFile(`/proc/${bosun.State.Pid}/status`, "utf8");
  const uids = (/^Uid:\s+(.*)$/m.exec(status)?.[1] ?? "").trim().split(/\s+/).map(Number);
  assert.equal(uids.length, 4, status);
  assert.ok(uids.every((u) => u !== 0), `the container's main process runs without uid 0 (real, effective, saved, fs: ${uids.join(" ")})`);
  assert.match(await readFile(`/proc/${bosun.State.Pid}/cmdline`, "utf8"), /^node\0src\/main\.ts\0$/);
  assert.deepEqual([bosun.HostConfig.ReadonlyRootfs, bosun.HostConfig.CapDrop, bosun.HostConfig.SecurityOpt], [true, ["ALL"], ["no-new-privileges:true"]], "read-only root, no capabilities, no new privileges");
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.deepEqual(await ready.json(), { status: "ready", postgres: "ok", docker: "ok" }, "Bosun reaches Postgres and the Docker socket");

  gh.setWebhookUrl(`http://127.0.0.1:${port}/api/github/webhooks`);
  const issue = await labelDemoIssue(gh, "deployed");
  const repo = gh.repo("acme/deployed");
  const doneComment = await until("the progress comment's outcome", async () => {
    await gh.hooks.settled();
    const c = [...repo.comments.values()].find((x) => x.issueNumber === issue && x.user === "bosun[bot]");
    return c && /Bosun · (✅|❌)/.test(c.body) ? c : null;
  }, 300_000, 500).catch(async (e: unknown) => { throw new Error(`${String(e)}\n${await logs()}`); });
  assert.match(doneComment.body, /Bosun · ✅ Done/, `${doneComment.body}\n${await logs()}`);

  const pull = [...repo.issues.values()].find((i) => i.pull);
  assert.ok(pull?.pull, "a pull request was opened");
  assert.match(pull.pull.head, new RegExp(`^bosun/${issue}-`));
  assert.match(pull.body ?? "", new RegExp(`Closes #${issue}`));
  assert.match(pull.body ?? "", /`npm test`: ✅ passed/);
  assert.match(pull.body ?? "", /- setup: reached nothing; refused `evil\.bosun\.test:80`/, "the setup sandbox reached the proxy through the socket folder bound from BOSUN_WORK_DIR");
  assert.equal(await gh.fileAt("acme/deployed", pull.pull.head, "src/add.js"), "// Adds two numbers.\nexport function add(a, b) {\n  return a + b;\n}\n");
  assert.ok(doneComment.body.includes(`${gh.url}/acme/deployed/pull/${pull.number}`), "the comment links the pull request");
  t.diagnostic(`pull request #${pull.number} ${Math.round((Date.now() - started) / 1000)} s after the test started`);
});
