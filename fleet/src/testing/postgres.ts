/** PostgreSQL for integration tests: the server named by TWILIGHT_TEST_PG_URL, else the private one ensure_postgres starts. */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/** The test server's URL (scripts/lib/common.sh `ensure_postgres` starts one on 127.0.0.1:55432 when none is named). */
export function testPostgresServer(): string {
  const given = process.env.TWILIGHT_TEST_PG_URL;
  if (given) return given;
  const r = spawnSync("bash", ["-c", 'source scripts/lib/common.sh && ensure_postgres && printf %s "$TWILIGHT_TEST_PG_URL"'], {
    cwd: REPO,
    encoding: "utf8",
    timeout: 600_000,
  });
  if (r.status !== 0 || !r.stdout) throw new Error(`ensure_postgres failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return r.stdout.trim();
}

/** One statement on the server's maintenance database (CREATE/DROP DATABASE). */
export async function onServer<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** A fresh database for one suite (`<prefix>_<random hex>`), and how to drop it (connections included). */
export async function testDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  if (!/^[a-z][a-z0-9_]{0,30}$/.test(prefix)) throw new Error(`bad database prefix ${prefix}`);
  const server = testPostgresServer();
  const db = `${prefix}_${randomBytes(6).toString("hex")}`; // [a-z0-9_] only: safe as an identifier
  await onServer(server, (c) => c.query(`CREATE DATABASE ${db}`));
  const u = new URL(server);
  u.pathname = `/${db}`;
  return {
    url: u.toString(),
    drop: () => onServer(server, (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)).then(() => undefined),
  };
}
