import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";
import pg from "pg";
import { testDatabase } from "../testing/postgres.js";
import { registryContract } from "./contract.js";
import { openRegistry } from "./index.js";

registryContract("postgres", async () => {
  const { url, drop } = await testDatabase("twilight_test");
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
      await drop();
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
