// Applies the schema at start-up with node-pg-migrate; its advisory lock makes concurrent
// replicas wait for each other instead of racing.
import { fileURLToPath } from "node:url";
import { runner } from "node-pg-migrate";
import type { Logger } from "pino";

export const migrationsDir = fileURLToPath(new URL("./migrations", import.meta.url));

export async function migrate(databaseUrl: string, log?: Logger): Promise<void> {
  await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: "up",
    migrationsTable: "pgmigrations",
    checkOrder: true,
    log: (msg: string) => log?.debug({ migration: msg }, "migration"),
  });
}
