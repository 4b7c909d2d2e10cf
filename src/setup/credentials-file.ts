// The GitHub App's credentials as the first-start setup saved them: one JSON file, readable by
// Bosun's user alone (0600), in a folder only it may enter (0700). Nothing here prints or logs a
// value; errors name the file and the key, never what it holds.
import { randomBytes } from "node:crypto";
import { chmod, link, mkdir, open, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { z } from "zod";

export const credentialsSchema = z.object({
  APP_ID: z.string().regex(/^\d+$/, "must be the app's numeric id"),
  PRIVATE_KEY: z.string().includes("PRIVATE KEY", { message: "must be a PEM private key" }),
  WEBHOOK_SECRET: z.string().min(1),
  GITHUB_CLIENT_ID: z.string().min(1),
  GITHUB_CLIENT_SECRET: z.string().min(1),
  /** The app's page on GitHub, where it is installed from. */
  APP_HTML_URL: z.string().url().optional(),
});

export type AppCredentials = z.infer<typeof credentialsSchema>;

/** The saved credentials, or null when the file does not exist. Throws when it exists but cannot be used. */
export async function readCredentialsFile(path: string): Promise<AppCredentials | null> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`[bosun/setup] cannot read the GitHub App's credentials file ${path}: ${(e as Error).message}`, { cause: e });
  }
  const mode = (await stat(path)).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`[bosun/setup] the GitHub App's credentials file ${path} may be read by other users (mode ${mode.toString(8)}); run \`chmod 600 ${path}\``);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`[bosun/setup] the GitHub App's credentials file ${path} is not JSON; remove it to register the app again, or set the credentials in the environment`);
  }
  const r = credentialsSchema.safeParse(json);
  if (!r.success) {
    const keys = r.error.issues.map((i) => `${i.path.join(".") || "(the file)"}: ${i.message}`).join("; ");
    throw new Error(`[bosun/setup] the GitHub App's credentials file ${path} is not usable (${keys}); remove it to register the app again, or set the credentials in the environment`);
  }
  return r.data;
}

/**
 * Writes the credentials so that no other user can read them at any moment: a temporary file
 * created 0600 in the same folder, flushed, then linked to the target name, which must not exist
 * yet (a crash leaves no file or the whole one, never half a key; an app's file is never replaced
 * by another's).
 */
export async function writeCredentialsFile(path: string, credentials: AppCredentials): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", 0o600);
  try {
    try {
      await handle.writeFile(`${JSON.stringify(credentialsSchema.parse(credentials), null, 2)}\n`, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    // The umask cannot widen 0600, but a file system that ignores modes at creation is put right here.
    await chmod(temp, 0o600);
    await link(temp, path);
  } finally {
    await rm(temp, { force: true });
  }
}

/**
 * Whether the credentials file can be written where it is configured: its folder exists or can be
 * made, and a file can be created in it. Returns why not, in words, or null.
 */
export async function credentialsFileProblem(path: string): Promise<string | null> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const probe = join(dir, `.${randomBytes(6).toString("hex")}.probe`);
    await (await open(probe, "wx", 0o600)).close();
    await rm(probe);
    return null;
  } catch (e) {
    return `cannot write the credentials file in ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); set BOSUN_CREDENTIALS_FILE to a path Bosun may write, on a volume that outlives the container`;
  }
}
