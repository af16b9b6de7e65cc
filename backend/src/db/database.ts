/**
 * The billing database through Kysely: embedded SQLite (better-sqlite3) by default, PostgreSQL by URL. One schema,
 * created by `migrate` with Kysely's schema builder so both dialects share it. Timestamps are unix milliseconds.
 */
import { ConfigInvalid } from "@twilight/core";
import Database from "better-sqlite3";
import { type Generated, Kysely, PostgresDialect, SqliteDialect, sql } from "kysely";
import pg from "pg";

export interface OrdersTable {
  id: string;
  out_trade_no: string;
  user_id: string;
  plan: string;
  channel: string;
  amount_fen: number;
  status: string;
  code_url: string | null;
  profile_name: string;
  transaction_id: string | null;
  expires_at: number;
  created_at: number;
  updated_at: number;
  paid_at: number | null;
  /** End of the paid period (set when provisioned); grace and retention count from here. */
  period_end: number | null;
  /** Non-secret connection info (API base, status URL, session header) once provisioned. */
  connection: string | null;
  /** Secrets sealed with the service secret until the payer has seen them once, then null. */
  sealed_secrets: string | null;
  last_error: string | null;
}

export interface OrderEventsTable {
  id: string;
  order_id: string;
  at: number;
  kind: string;
  detail: string | null;
}

export interface NotificationsTable {
  id: string;
  order_id: string;
  event_type: string;
  received_at: number;
}

export interface NoncesTable {
  nonce: string;
  seen_at: number;
}

export interface OutboxTable {
  id: string;
  order_id: string;
  kind: string;
  payload: string;
  status: string;
  attempts: number;
  next_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface DB {
  billing_orders: OrdersTable;
  billing_order_events: OrderEventsTable;
  billing_notifications: NotificationsTable;
  billing_notify_nonces: NoncesTable;
  billing_outbox: OutboxTable;
}

export type Db = Kysely<DB>;
export type { Generated };

/** `sqlite:<file>` (or `sqlite::memory:`) or `postgres://...`; for PostgreSQL, `?schema=name` selects a schema. */
export async function openDatabase(url: string): Promise<Db> {
  if (url.startsWith("sqlite:")) {
    const file = url.slice("sqlite:".length) || ":memory:";
    const sqlite = new Database(file);
    sqlite.pragma("journal_mode = WAL");
    sqlite.pragma("busy_timeout = 5000");
    return new Kysely<DB>({ dialect: new SqliteDialect({ database: sqlite }) });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const u = new URL(url);
    const schema = u.searchParams.get("schema");
    u.searchParams.delete("schema");
    if (schema && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new ConfigInvalid(`bad schema name ${schema}`);
    const pool = new pg.Pool({
      connectionString: u.toString(),
      max: 8,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    pool.on("error", () => undefined);
    if (schema) {
      const c = await pool.connect();
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
      } finally {
        c.release();
      }
    }
    return new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  }
  throw new ConfigInvalid(`BILLING_DATABASE_URL must start with sqlite: or postgres://, got ${url.split(":")[0]}:`);
}

export async function migrate(db: Db): Promise<void> {
  await db.schema
    .createTable("billing_orders")
    .ifNotExists()
    .addColumn("id", "varchar(40)", (c) => c.primaryKey())
    .addColumn("out_trade_no", "varchar(32)", (c) => c.notNull().unique())
    .addColumn("user_id", "varchar(128)", (c) => c.notNull())
    .addColumn("plan", "varchar(32)", (c) => c.notNull())
    .addColumn("channel", "varchar(128)", (c) => c.notNull())
    .addColumn("amount_fen", "integer", (c) => c.notNull())
    .addColumn("status", "varchar(16)", (c) => c.notNull())
    .addColumn("code_url", "text")
    .addColumn("profile_name", "varchar(40)", (c) => c.notNull())
    .addColumn("transaction_id", "varchar(64)")
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addColumn("paid_at", "bigint")
    .addColumn("period_end", "bigint")
    .addColumn("connection", "text")
    .addColumn("sealed_secrets", "text")
    .addColumn("last_error", "text")
    .execute();
  await db.schema
    .createIndex("billing_orders_status")
    .ifNotExists()
    .on("billing_orders")
    .columns(["status", "created_at"])
    .execute();
  await db.schema
    .createTable("billing_order_events")
    .ifNotExists()
    .addColumn("id", "varchar(40)", (c) => c.primaryKey())
    .addColumn("order_id", "varchar(40)", (c) => c.notNull())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("kind", "varchar(32)", (c) => c.notNull())
    .addColumn("detail", "text")
    .execute();
  await db.schema
    .createIndex("billing_order_events_order")
    .ifNotExists()
    .on("billing_order_events")
    .columns(["order_id", "at"])
    .execute();
  await db.schema
    .createTable("billing_notifications")
    .ifNotExists()
    .addColumn("id", "varchar(64)", (c) => c.primaryKey())
    .addColumn("order_id", "varchar(40)", (c) => c.notNull())
    .addColumn("event_type", "varchar(64)", (c) => c.notNull())
    .addColumn("received_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("billing_notify_nonces")
    .ifNotExists()
    .addColumn("nonce", "varchar(64)", (c) => c.primaryKey())
    .addColumn("seen_at", "bigint", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("billing_outbox")
    .ifNotExists()
    .addColumn("id", "varchar(40)", (c) => c.primaryKey())
    .addColumn("order_id", "varchar(40)", (c) => c.notNull())
    .addColumn("kind", "varchar(32)", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("status", "varchar(16)", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_at", "bigint", (c) => c.notNull())
    .addColumn("last_error", "text")
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addUniqueConstraint("billing_outbox_order_kind", ["order_id", "kind"])
    .execute();
  await db.schema.createIndex("billing_outbox_due").ifNotExists().on("billing_outbox").columns(["status", "next_at"]).execute();
}

/** Checks the database answers (health). */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
