/**
 * PostgreSQL backend of the registry (a pg Pool). Only the executor lives here; SQL and row mapping are shared
 * (store.ts), placeholders and DDL types come from the dialect. Same semantics as SQLite: see the contract tests.
 */
import pg from "pg";
import type { Logger } from "pino";
import type { Db, QueryResult, SqlValue, Statement } from "./dialect.js";
import { postgresDialect } from "./dialect.js";
import { SqlRegistry, type StoreOptions } from "./store.js";

export interface PostgresOptions extends StoreOptions {
  /** Most connections the pool opens (default 10). */
  poolSize?: number;
  /** How long to wait for a connection before failing (default 10 s). */
  connectTimeoutMs?: number;
}

class PostgresDb implements Db {
  readonly dialect = postgresDialect;

  constructor(private readonly pool: pg.Pool) {}

  private async run(client: pg.Pool | pg.PoolClient, sql: string, params?: readonly SqlValue[]): Promise<QueryResult> {
    // without parameters pg uses the simple protocol, which DDL such as a dollar-quoted function body needs
    const r = params?.length ? await client.query(this.dialect.placeholders(sql), params as SqlValue[]) : await client.query(sql);
    return { rows: r.rows as Record<string, unknown>[], rowCount: r.rowCount ?? 0 };
  }

  query(sql: string, params?: readonly SqlValue[]): Promise<QueryResult> {
    return this.run(this.pool, sql, params);
  }

  async atomic(statements: readonly Statement[]): Promise<void> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query("BEGIN");
      for (const s of statements) await this.run(client, s.sql, s.params);
      await client.query("COMMIT");
    } catch (e) {
      try {
        await client.query("ROLLBACK");
      } catch {
        broken = true; // the connection is unusable: destroy it instead of returning it to the pool
      }
      throw e;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A registry on the PostgreSQL database at `url` (postgres://user:pass@host:port/db). Not migrated yet. */
export function openPostgresRegistry(url: string, opts: PostgresOptions = {}): SqlRegistry {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? 10,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
    application_name: "twilight-fleet-registry",
  });
  // an idle connection that dies (server restart) must not crash the process; the next query reconnects
  pool.on("error", (e: Error) => logPoolError(opts.logger, e));
  return new SqlRegistry(new PostgresDb(pool), opts);
}

function logPoolError(logger: Logger | undefined, e: Error): void {
  logger?.warn(
    { backend: "postgres", err: { message: e.message, code: (e as { code?: unknown }).code } },
    "registry connection lost",
  );
}
