/**
 * What differs between the two registry backends, in one small object each: DDL type names, placeholders, the
 * migration lock and how a driver error is classified. Everything else (SQL text, row mapping) is shared in store.ts.
 * Pure: no driver is imported here, so this file is unit-tested without an engine.
 */

export type Backend = "sqlite" | "postgres";
export type SqlValue = string | number | null;

export interface Statement {
  sql: string;
  params?: readonly SqlValue[];
}

export interface QueryResult {
  rows: Record<string, unknown>[];
  rowCount: number;
}

/** The executor each backend file implements: shared SQL goes in with `?` placeholders, rows come out unmapped. */
export interface Db {
  readonly dialect: Dialect;
  /** One statement: rows for SELECT and RETURNING, the affected row count for the rest. */
  query(sql: string, params?: readonly SqlValue[]): Promise<QueryResult>;
  /** Several statements in one transaction: all or nothing. No callback, so nothing else interleaves. */
  atomic(statements: readonly Statement[]): Promise<void>;
  close(): Promise<void>;
}

/** A driver error, reduced to what the registry acts on. */
export type DbFailure =
  | { kind: "unique"; table: string | undefined; column: string | undefined }
  | { kind: "invalid"; message: string }
  | { kind: "unavailable"; message: string };

/** DDL tokens shared migrations use where the two engines spell a type differently. */
export type DdlToken = "TIMESTAMP" | "JSON" | "BIGINT" | "ID" | "STRICT";

export interface Dialect {
  readonly name: Backend;
  readonly ddl: Readonly<Record<DdlToken, string>>;
  /** Turn the shared `?` placeholders into the engine's own. */
  placeholders(sql: string): string;
  /** Statement that serialises concurrent migrators inside their transaction, or null when the engine needs none. */
  readonly migrationLock: string | null;
  classify(err: unknown): DbFailure | undefined;
}

/** Replace `{{TOKEN}}` in shared DDL; an unknown token is a programming error. */
export function resolveDdl(dialect: Dialect, sql: string): string {
  return sql.replace(/\{\{([A-Z]+)\}\}/g, (_, t: string) => {
    const v = (dialect.ddl as Record<string, string | undefined>)[t];
    if (v === undefined) throw new Error(`unknown DDL token {{${t}}}`);
    return v;
  });
}

/** `?` -> `$1, $2, ...`, skipping quoted strings and identifiers. */
export function numberPlaceholders(sql: string): string {
  let out = "";
  let n = 0;
  let quote: string | null = null;
  for (const c of sql) {
    if (quote) {
      if (c === quote) quote = null;
      out += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      out += c;
    } else if (c === "?") {
      n += 1;
      out += `$${n}`;
    } else {
      out += c;
    }
  }
  return out;
}

interface DriverErrorShape {
  code?: unknown;
  message?: unknown;
  table?: unknown;
  detail?: unknown;
}

function shape(err: unknown): DriverErrorShape {
  return typeof err === "object" && err !== null ? (err as DriverErrorShape) : {};
}

export const sqliteDialect: Dialect = {
  name: "sqlite",
  ddl: {
    TIMESTAMP: "TEXT",
    JSON: "TEXT",
    BIGINT: "INTEGER",
    ID: "INTEGER PRIMARY KEY AUTOINCREMENT",
    STRICT: " STRICT",
  },
  placeholders: (sql) => sql,
  migrationLock: null, // BEGIN IMMEDIATE already serialises writers
  classify(err) {
    const { code, message } = shape(err);
    if (typeof code !== "string" || !code.startsWith("SQLITE_")) return undefined;
    const msg = typeof message === "string" ? message : code;
    if (code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY") {
      // "UNIQUE constraint failed: hermes_profiles.port"
      const m = /constraint failed: (\w+)\.(\w+)/.exec(msg);
      return { kind: "unique", table: m?.[1], column: m?.[2] };
    }
    if (code === "SQLITE_CONSTRAINT_CHECK" || code === "SQLITE_CONSTRAINT_NOTNULL" || code === "SQLITE_CONSTRAINT_DATATYPE") {
      return { kind: "invalid", message: msg };
    }
    if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return { kind: "unavailable", message: msg };
    return undefined;
  },
};

const PG_NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EHOSTUNREACH", "EPIPE"]);

export const postgresDialect: Dialect = {
  name: "postgres",
  ddl: {
    TIMESTAMP: "TIMESTAMPTZ",
    JSON: "JSONB",
    BIGINT: "BIGINT",
    ID: "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
    STRICT: "",
  },
  placeholders: numberPlaceholders,
  // any constant works; it only has to be the same for every migrator of this schema
  migrationLock: "SELECT pg_advisory_xact_lock(7305196374021)",
  classify(err) {
    const { code, message, table, detail } = shape(err);
    if (typeof code !== "string") return undefined;
    const msg = typeof message === "string" ? message : code;
    if (code === "23505") {
      // detail: 'Key (port)=(20001) already exists.'
      const m = typeof detail === "string" ? /^Key \(([^)]+)\)=/.exec(detail) : null;
      return { kind: "unique", table: typeof table === "string" ? table : undefined, column: m?.[1] };
    }
    if (code === "23514" || code === "23502" || code === "22P02" || code === "22007" || code === "22008") {
      return { kind: "invalid", message: msg };
    }
    if (PG_NETWORK_CODES.has(code) || code.startsWith("08") || code === "57P01" || code === "57P03" || code === "53300") {
      return { kind: "unavailable", message: msg };
    }
    return undefined;
  },
};
