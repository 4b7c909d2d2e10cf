// Process settings from the environment, validated once at start-up.
import { z } from "zod";

export const envSchema = z.object({
  DATABASE_URL: z.string().default("postgres://bosun:bosun@127.0.0.1:5432/bosun"),
  APP_ID: z.string().optional(),
  PRIVATE_KEY: z.string().optional(),
  PRIVATE_KEY_PATH: z.string().optional(),
  WEBHOOK_SECRET: z.string().optional(),
  /** GitHub's REST API root; GitHub Enterprise Server or the offline GitHub set it. */
  GITHUB_API_URL: z.string().url().default("https://api.github.com"),
  PORT: z.coerce.number().int().default(3000),
  HOST: z.string().default("0.0.0.0"),
  /** The image agents and tests run in unless the repository's policy names another allowed one. */
  BOSUN_AGENT_IMAGE: z.string().default("bosun/agent-base:latest"),
  /** The image `agent.use: codex` and `claude` run in unless the repository names another allowed one (docker/agent-clis). */
  BOSUN_CLI_AGENT_IMAGE: z.string().default("bosun/agent-clis:latest"),
  /** The image with the common toolchains (docker/agent-universal), allowed like the two above; an org makes it its repositories' default with `sandbox.default_image`. */
  BOSUN_UNIVERSAL_AGENT_IMAGE: z.string().default("bosun/agent-universal:latest"),
  /** Agent command when the repository's .github/bosun.yml names none. */
  BOSUN_DEFAULT_AGENT_COMMAND: z.string().default("node /bosun/agents/patch-agent.mjs"),
  /** The sandbox runtime: runc (Docker's default) or runsc (gVisor, its own kernel in user space). Never falls back. */
  BOSUN_RUNTIME: z.enum(["runc", "runsc"]).default("runc"),
  BOSUN_SANDBOX_MEMORY_MB: z.coerce.number().int().min(64).default(2048),
  BOSUN_SANDBOX_CPUS: z.coerce.number().positive().default(1),
  BOSUN_SANDBOX_PIDS: z.coerce.number().int().min(16).default(512),
  /** Disk a sandbox's writable volumes may take together (measured every second while it runs; src/sandbox/disk-watch.ts). */
  BOSUN_SANDBOX_DISK_MB: z.coerce.number().int().min(64).default(10_240),
  /** The most disk one org's setup caches may take on the Docker host, whatever its policy says (`setup_cache.max_total_mb_per_org`). */
  BOSUN_SETUP_CACHE_MAX_MB_PER_ORG: z.coerce.number().int().min(0).default(20_480),
  /** A PEM bundle on Bosun's host of extra CAs every sandbox phase trusts (a TLS-inspecting proxy's); checked at start-up (src/sandbox/ca-certs.ts). */
  BOSUN_SANDBOX_CA_CERTS: z.string().min(1).optional(),
  /** How long a claim on a run lasts without a heartbeat; another replica takes over after it. */
  BOSUN_LEASE_SECONDS: z.coerce.number().positive().default(30),
  /** How often ended runs' leftovers (containers, volumes, scratch) are swept, besides at start-up. */
  BOSUN_SWEEP_SECONDS: z.coerce.number().positive().default(60),
  /** How many runs one process works on at once. */
  BOSUN_CONCURRENCY: z.coerce.number().int().min(1).default(2),
  /** A name for this replica in leases and logs. */
  BOSUN_REPLICA: z.string().optional(),
  /** Where runs keep their host-side scratch (clones, archives); removed when a run ends. */
  BOSUN_WORK_DIR: z.string().optional(),
  /** Spacing of GitHub writes in this process (GitHub's guidance: a second); notifying writes (comments, pull requests) get their own. */
  BOSUN_GITHUB_WRITE_INTERVAL_MS: z.coerce.number().int().min(0).default(1000),
  BOSUN_GITHUB_NOTIFY_INTERVAL_MS: z.coerce.number().int().min(0).default(3000),
  /** Public URL of this Bosun (the dashboard's address): links to runs, the sign-in callback, Secure cookies when https. */
  BOSUN_PUBLIC_URL: z.string().url().optional(),
  /** GitHub's web root, where people sign in (GitHub Enterprise Server or the offline GitHub set it). */
  GITHUB_URL: z.string().url().default("https://github.com"),
  /** The GitHub App's client id and secret: the dashboard's "Sign in with GitHub". */
  GITHUB_CLIENT_ID: z.string().optional(),
  GITHUB_CLIENT_SECRET: z.string().optional(),
  /** The organization that owns the GitHub App the first-start setup registers; unset: the signed-in person's account. */
  GITHUB_ORG: z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/, "must be a GitHub organization's login").optional(),
  /** Where the first-start setup keeps the GitHub App's credentials, and where later starts read them (a volume in a container). */
  BOSUN_CREDENTIALS_FILE: z.string().min(1).default("/var/lib/bosun/github-app.json"),
  /** The setup page's token (first start without an app); a random one, printed in the log, when unset. */
  BOSUN_SETUP_TOKEN: z.string().min(16).optional(),
  /** Seals dashboard users' GitHub tokens in Postgres; derived from the app's private key when unset. */
  BOSUN_SESSION_SECRET: z.string().min(32).optional(),
});

export type Env = z.infer<typeof envSchema>;

export function readEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // An empty value is no value: `APP_ID=` in a compose file's .env passes "" rather than nothing.
  const r = envSchema.safeParse(Object.fromEntries(Object.entries(source).filter(([, v]) => v !== "")));
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`[bosun/config] the environment is not valid:\n${lines}`);
  }
  return r.data;
}
