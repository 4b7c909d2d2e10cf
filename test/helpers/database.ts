// A fresh Postgres database per test suite on the server DATABASE_URL names, dropped afterwards.
import { randomBytes } from "node:crypto";
import pg from "pg";

export const adminDatabaseUrl = process.env["DATABASE_URL"] ?? "postgres://bosun:bosun@127.0.0.1:5432/bosun";

export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bosun_test_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminDatabaseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
