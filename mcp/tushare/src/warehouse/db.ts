/**
 * The DuckDB warehouse file. DuckDB lets one process open a file read-write, so the service holds the only instance:
 * one writer connection behind a mutex (every write of ours goes through it, whole days in one transaction) and a small
 * pool of reader connections whose every query runs in a READ ONLY transaction, so reads never wait for the writer and
 * can never write. A process that only looks (a check, a benchmark) opens the file with access_mode READ_ONLY.
 *
 * Reader statements are prepared once per connection and reused, but only until the writer next finishes: DuckDB
 * (1.5.x, duckdb/duckdb#23704) plans a prepared statement with the table statistics of the moment, and may fold a
 * filter on an empty table into an empty result, so a statement prepared before a commit can keep missing its rows
 * (`meta` read as empty after trade_cal_refreshed_at was written). Every write bumps `generation`; a cached statement
 * from an older generation is prepared again.
 */
import { type DuckDBConnection, DuckDBInstance, type DuckDBPreparedStatement, type DuckDBValue } from "@duckdb/node-api";
import { Unavailable } from "@twilight/core";
import { SCHEMA } from "./schema.js";

export type Row = Record<string, unknown>;
export type SqlValue = string | number | boolean | null;

/** What a write step may do: statements on the writer connection (inside a transaction when given by `transaction`). */
export interface WriterConn {
  run(sql: string, params?: SqlValue[]): Promise<void>;
  all(sql: string, params?: SqlValue[]): Promise<Row[]>;
}

export interface WarehouseOptions {
  path: string;
  readOnly?: boolean;
  /** Reader connections (default 3). */
  readers?: number;
}

function normalise(rows: Record<string, unknown>[]): Row[] {
  for (const r of rows) for (const k of Object.keys(r)) if (typeof r[k] === "bigint") r[k] = Number(r[k]);
  return rows;
}

async function all(conn: DuckDBConnection, sql: string, params: SqlValue[] = []): Promise<Row[]> {
  const reader = await conn.runAndReadAll(sql, params as DuckDBValue[]);
  return normalise(reader.getRowObjectsJS() as Record<string, unknown>[]);
}

/** A promise-chain mutex: one holder at a time, in arrival order. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  async lock<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => {
      release = r;
    });
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

interface Prepared {
  stmt: DuckDBPreparedStatement;
  /** The write generation the statement was prepared in. */
  generation: number;
}

/** How many answers the read cache keeps, and the largest answer it keeps (rows). */
const ANSWER_CACHE_SIZE = 4096;
const ANSWER_MAX_ROWS = 64;
/** JSON.stringify replacer for cache keys: bigint parameters as text. */
function bigintJson(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? `${v}n` : v;
}

export class Warehouse {
  private readonly free: DuckDBConnection[];
  private readonly waiting: ((c: DuckDBConnection) => void)[] = [];
  private readonly writeLock = new Mutex();
  private closed = false;
  /** Bumped after every use of the writer: statements prepared before it may carry stale statistics. */
  private generation = 0;

  private constructor(
    readonly path: string,
    private readonly instance: DuckDBInstance,
    private readonly writer: DuckDBConnection | undefined,
    readers: DuckDBConnection[],
  ) {
    this.free = readers;
  }

  static async open(opts: WarehouseOptions): Promise<Warehouse> {
    const instance = await DuckDBInstance.create(opts.path, opts.readOnly ? { access_mode: "READ_ONLY" } : {});
    try {
      let writer: DuckDBConnection | undefined;
      if (!opts.readOnly) {
        writer = await instance.connect();
        for (const stmt of SCHEMA) await writer.run(stmt);
      }
      const readers: DuckDBConnection[] = [];
      for (let i = 0; i < (opts.readers ?? 3); i++) readers.push(await instance.connect());
      return new Warehouse(opts.path, instance, writer, readers);
    } catch (e) {
      instance.closeSync();
      throw e;
    }
  }

  get readOnly(): boolean {
    return this.writer === undefined;
  }

  /**
   * A query on a reader connection, inside a READ ONLY transaction; statements are reused until the next write, and so
   * are small answers: the warehouse changes only through `write`, so an answer read entirely within one write
   * generation is the answer until the next write (many profiles ask for the same popular stocks: a repeat costs no
   * DuckDB round trip). `{ cache: false }` reads DuckDB every time (benchmarks' yardstick).
   */
  async read(sql: string, params: SqlValue[] = [], opts: { cache?: boolean } = {}): Promise<Row[]> {
    const useCache = opts.cache !== false;
    const key = useCache ? `${sql}\u0000${JSON.stringify(params, bigintJson)}` : "";
    if (useCache) {
      const hit = this.answers.get(key);
      if (hit && hit.generation === this.generation) return hit.rows.map((r) => ({ ...r }));
    }
    const generation = this.generation;
    const rows = await this.readDb(sql, params);
    // stored only when no write ended meanwhile (a write that ends later bumps the generation past it)
    if (useCache && generation === this.generation && rows.length <= ANSWER_MAX_ROWS) {
      if (this.answers.size >= ANSWER_CACHE_SIZE) this.answers.delete(this.answers.keys().next().value as string);
      this.answers.set(key, { generation, rows: rows.map((r) => ({ ...r })) });
    }
    return rows;
  }

  /** Small answers of the current write generation (insertion order: the oldest goes first when full). */
  private readonly answers = new Map<string, { generation: number; rows: Row[] }>();

  private async readDb(sql: string, params: SqlValue[]): Promise<Row[]> {
    const conn = await this.acquire();
    try {
      await conn.run("BEGIN TRANSACTION READ ONLY");
      try {
        const stmt = await this.prepared(conn, sql);
        stmt.bind(params as DuckDBValue[]);
        const reader = await stmt.runAndReadAll();
        return normalise(reader.getRowObjectsJS() as Record<string, unknown>[]);
      } finally {
        await conn.run("COMMIT");
      }
    } finally {
      this.release(conn);
    }
  }

  private readonly statements = new WeakMap<DuckDBConnection, Map<string, Prepared>>();
  private async prepared(conn: DuckDBConnection, sql: string): Promise<DuckDBPreparedStatement> {
    let cache = this.statements.get(conn);
    if (!cache) {
      cache = new Map();
      this.statements.set(conn, cache);
    }
    const hit = cache.get(sql);
    if (hit && hit.generation === this.generation) return hit.stmt;
    // Read before preparing: a write that ends while we prepare makes this entry stale, never the reverse.
    const generation = this.generation;
    const stmt = await conn.prepare(sql);
    if (hit) {
      cache.delete(sql);
      hit.stmt.destroySync();
    }
    if (cache.size >= 256) {
      for (const p of cache.values()) p.stmt.destroySync();
      cache.clear();
    }
    cache.set(sql, { stmt, generation });
    return stmt;
  }

  /** Exclusive use of the writer connection. */
  write<T>(fn: (c: WriterConn) => Promise<T>): Promise<T> {
    const w = this.writer;
    if (!w) return Promise.reject(new Unavailable(`warehouse ${this.path} is open read-only`));
    return this.writeLock.lock(async () => {
      if (this.closed) throw new Unavailable("warehouse is closed");
      try {
        return await fn({
          run: async (sql, params = []) => {
            await w.run(sql, params as DuckDBValue[]);
          },
          all: (sql, params) => all(w, sql, params),
        });
      } finally {
        this.generation++;
      }
    });
  }

  /** One transaction on the writer: all of `fn` commits, or none of it. */
  transaction<T>(fn: (c: WriterConn) => Promise<T>): Promise<T> {
    return this.write(async (c) => {
      await c.run("BEGIN TRANSACTION");
      try {
        const out = await fn(c);
        await c.run("COMMIT");
        return out;
      } catch (e) {
        await c.run("ROLLBACK").catch(() => undefined);
        throw e;
      }
    });
  }

  private acquire(): Promise<DuckDBConnection> {
    if (this.closed) return Promise.reject(new Unavailable("warehouse is closed"));
    const c = this.free.pop();
    if (c) return Promise.resolve(c);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(c: DuckDBConnection): void {
    const next = this.waiting.shift();
    if (next) next(c);
    else this.free.push(c);
  }

  /** Waits for the writer to finish what it holds, then checkpoints (read-write) and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    if (this.writer) await this.write((c) => c.run("CHECKPOINT")).catch(() => undefined);
    else await this.writeLock.lock(async () => undefined);
    this.closed = true;
    for (const c of this.free) c.closeSync();
    this.writer?.closeSync();
    this.instance.closeSync();
  }
}
