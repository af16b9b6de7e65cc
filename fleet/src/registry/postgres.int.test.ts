import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { registryContract } from "./contract.js";
import { openRegistry } from "./index.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/** The server named by TWILIGHT_TEST_PG_URL, or a private one started by scripts/lib/common.sh (ensure_postgres). */
function serverUrl(): string {
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

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

registryContract("postgres", async () => {
  const server = serverUrl();
  const db = `twilight_test_${randomBytes(6).toString("hex")}`; // [a-z0-9_] only: safe as an identifier
  await admin(server, (c) => c.query(`CREATE DATABASE ${db}`));
  const u = new URL(server);
  u.pathname = `/${db}`;
  const url = u.toString();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    open: (opts) => openRegistry(url, { ...opts, migrate: false, poolSize: 4 }),
    raw: async (sql) => (await client.query(sql)).rows as Record<string, unknown>[],
    columns: async (table) =>
      (
        await client.query<{ column_name: string }>(
          "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1",
          [table],
        )
      ).rows.map((r) => r.column_name),
    destroy: async () => {
      await client.end();
      await admin(server, (c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`));
    },
  };
});

test("postgres: an unreachable server is Unavailable and the message keeps the password out", async () => {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r())); // a port that was just free: nothing listens there now
  await assert.rejects(
    openRegistry(`postgres://fleet:hunter2@127.0.0.1:${port}/twilight`, { connectTimeoutMs: 2000 }),
    (e: Error) => {
      assert.equal((e as { code?: string }).code, "UNAVAILABLE");
      assert.equal(e.message.includes("hunter2"), false, e.message);
      return true;
    },
  );
});
