import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { registryContract } from "./contract.js";
import { openRegistry } from "./index.js";
import { openSqliteDatabase } from "./sqlite.js";

const root = mkdtempSync(join(tmpdir(), "twilight-registry-"));
after(() => rmSync(root, { recursive: true, force: true }));

function raw<T>(file: string, fn: (db: Database.Database) => T): T {
  const db = new Database(file, { fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

registryContract("sqlite", async () => {
  const dir = mkdtempSync(join(root, "contract-"));
  const file = join(dir, "ops", "profiles.db");
  return {
    open: (opts) => openRegistry(`sqlite:${file}`, { ...opts, migrate: false }),
    raw: async (sql) =>
      raw(file, (db) => {
        const s = db.prepare(sql);
        if (s.reader) return s.all() as Record<string, unknown>[];
        s.run();
        return [];
      }),
    columns: async (table) =>
      raw(file, (db) =>
        (db.prepare("SELECT name FROM pragma_table_info(?)").all(table) as { name: string }[]).map((r) => r.name),
      ),
    destroy: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

test("sqlite: the file is 0600 in a new 0700 directory, in WAL mode with a busy timeout and foreign keys", async () => {
  const file = join(root, "fresh", "nested", "profiles.db");
  const reg = await openRegistry(file);
  try {
    assert.equal(reg.backend, "sqlite");
    await reg.addEvent({ profile: "p", actor: "t", action: "a", result: "ok" }); // makes SQLite create the -wal file
    assert.equal(statSync(join(root, "fresh")).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, "fresh", "nested")).mode & 0o777, 0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    raw(file, (db) => assert.equal(db.pragma("journal_mode", { simple: true }), "wal"));
  } finally {
    await reg.close();
  }
});

test("sqlite: the registry's connection has WAL, a busy timeout, foreign keys and full sync", () => {
  // pragma values are per connection: check them on a connection made by the registry's own opener
  const db = openSqliteDatabase(join(root, "pragmas.db"));
  try {
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(db.pragma("busy_timeout", { simple: true }), 5000);
    assert.equal(db.pragma("foreign_keys", { simple: true }), 1);
    assert.equal(db.pragma("synchronous", { simple: true }), 2);
  } finally {
    db.close();
  }
});

test("sqlite: an existing directory keeps its mode, an existing file is tightened to 0600", async () => {
  const dir = mkdtempSync(join(root, "existing-"));
  chmodSync(dir, 0o755);
  const file = join(dir, "profiles.db");
  writeFileSync(file, "", { mode: 0o644 });
  const reg = await openRegistry(`sqlite:${file}`);
  await reg.close();
  assert.equal(statSync(dir).mode & 0o777, 0o755);
  assert.equal(statSync(file).mode & 0o777, 0o600);
});

test("sqlite: an in-memory registry works for quick tools", async () => {
  const reg = await openRegistry("sqlite::memory:");
  try {
    await reg.addEvent({ profile: "p", actor: "t", action: "a", result: "info" });
    assert.equal((await reg.events()).length, 1);
  } finally {
    await reg.close();
  }
});
