/**
 * SQLite backend of the registry (better-sqlite3): WAL, a busy timeout, foreign keys on, full sync. The file is created
 * 0600 in a directory created 0700. Only the executor lives here; SQL and row mapping are shared (store.ts).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import type { Db, QueryResult, SqlValue, Statement } from "./dialect.js";
import { sqliteDialect } from "./dialect.js";
import { SqlRegistry, type StoreOptions } from "./store.js";

export const SQLITE_MEMORY = ":memory:";
export const SQLITE_BUSY_TIMEOUT_MS = 5000;

/** Create the database file (and missing parent directories) with owner-only modes before SQLite opens it. */
export function prepareDbFile(file: string): void {
  const dir = dirname(file);
  // Only directories we create get 0700: an existing parent (such as ops/, which also holds the profiles root that each
  // profile's uid must traverse) keeps the mode its owner gave it.
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  closeSync(openSync(file, "a", 0o600));
  chmodSync(file, 0o600); // also when it existed; SQLite gives -wal and -shm the same mode
}

class SqliteDb implements Db {
  readonly dialect = sqliteDialect;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private prepare(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      if (this.statements.size > 200) this.statements.clear();
      this.statements.set(sql, s);
    }
    return s;
  }

  private runOne(sql: string, params: readonly SqlValue[] = []): QueryResult {
    const s = this.prepare(sql);
    if (s.reader) {
      const rows = s.all(...params) as Record<string, unknown>[];
      return { rows, rowCount: rows.length };
    }
    return { rows: [], rowCount: s.run(...params).changes };
  }

  async query(sql: string, params?: readonly SqlValue[]): Promise<QueryResult> {
    return this.runOne(sql, params);
  }

  async atomic(statements: readonly Statement[]): Promise<void> {
    // Synchronous from BEGIN IMMEDIATE to COMMIT: no other call on this connection can interleave, and the write
    // lock is taken up front so a second connection waits (busy_timeout) instead of failing mid-transaction.
    const tx = this.db.transaction(() => {
      for (const s of statements) this.runOne(s.sql, s.params);
    });
    tx.immediate();
  }

  async close(): Promise<void> {
    this.statements.clear();
    if (this.db.open) this.db.close();
  }
}

/** Open the SQLite database the registry uses, with its pragmas set (creating the file if needed). */
export function openSqliteDatabase(file: string): Database.Database {
  const memory = file === SQLITE_MEMORY;
  const path = memory ? file : resolve(file);
  if (!memory) prepareDbFile(path);
  const db = new Database(path);
  try {
    if (!memory) db.pragma("journal_mode = WAL");
    db.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    db.pragma("foreign_keys = ON");
    db.pragma("synchronous = FULL"); // the registry is the fleet's truth: a committed row survives a power cut
  } catch (e) {
    db.close();
    throw e;
  }
  return db;
}

/** Open (creating if needed) the SQLite registry at `file`, or an in-memory one for `:memory:`. Not migrated yet. */
export function openSqliteRegistry(file: string, opts: StoreOptions = {}): SqlRegistry {
  return new SqlRegistry(new SqliteDb(openSqliteDatabase(file)), opts);
}
