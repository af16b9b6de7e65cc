/**
 * The one typed query layer of the registry: every SQL statement and every row mapping, shared by both backends.
 * A backend only supplies a `Db` (sqlite.ts, postgres.ts); the differences live in its `Dialect` (dialect.ts).
 */
import { randomUUID } from "node:crypto";
import { Conflict, DomainError, InputInvalid, NotFound, Unavailable } from "@twilight/core";
import type { Logger } from "pino";
import type { Db, SqlValue } from "./dialect.js";
import { type Migration, runMigrations } from "./migrations.js";
import type { NewEvent, NewProfile, ProfileEvent, ProfilePatch, ProfileRow, Registry } from "./types.js";
import { parseEventsQuery, parseNewEvent, parseNewProfile, parsePatch } from "./validate.js";

/** Every column of `hermes_profiles`, in the order of ProfileRow. Never `SELECT *`: the row type is the contract. */
export const PROFILE_COLUMNS = [
  "id",
  "name",
  "tier",
  "user_id",
  "status",
  "desired_state",
  "pid",
  "container_id",
  "workload_handle",
  "profile_path",
  "node",
  "port",
  "uid",
  "gid",
  "generation",
  "image",
  "plan",
  "order_id",
  "restart_count",
  "last_error",
  "secrets_fingerprint",
  "created_at",
  "updated_at",
  "last_health_check",
  "last_started_at",
] as const satisfies readonly (keyof ProfileRow)[];

export const EVENT_COLUMNS = [
  "id",
  "profile",
  "at",
  "actor",
  "action",
  "result",
  "detail",
] as const satisfies readonly (keyof ProfileEvent)[];

const TIMESTAMP_COLUMNS = new Set(["created_at", "updated_at", "last_health_check", "last_started_at", "at"]);
const PROFILE_INTEGERS = new Set(["pid", "port", "uid", "gid", "generation", "restart_count"]);
const EVENT_INTEGERS = new Set(["id"]);
const PROFILE_LIST = PROFILE_COLUMNS.join(", ");
const EVENT_LIST = EVENT_COLUMNS.join(", ");
/** Fields a Conflict may name, with what the operator should do about each. */
const UNIQUE_HINTS: Record<string, string> = {
  name: "choose another profile name, or pass the same idempotency key to get the existing profile",
  port: "allocate another port",
  uid: "allocate another uid",
  order_id: "this order already provisioned a profile: look it up by its order id",
};

/** Timestamps leave the registry as ISO-8601 UTC strings whatever the engine returns (PostgreSQL: Date, SQLite: TEXT). */
function toIso(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  return (v instanceof Date ? v : new Date(String(v))).toISOString();
}

function toInt(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === "number" ? v : Number(v); // BIGINT arrives as a string from pg, a bigint only if asked for
  if (!Number.isSafeInteger(n)) throw new DomainError("INTERNAL", `registry: integer column holds ${String(v)}`);
  return n;
}

function mapColumns(raw: Record<string, unknown>, columns: readonly string[], ints: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const v = raw[c];
    out[c] = TIMESTAMP_COLUMNS.has(c) ? toIso(v) : ints.has(c) ? toInt(v) : (v ?? null);
  }
  return out;
}

export function mapProfile(raw: Record<string, unknown>): ProfileRow {
  return mapColumns(raw, PROFILE_COLUMNS, PROFILE_INTEGERS) as unknown as ProfileRow;
}

export function mapEvent(raw: Record<string, unknown>): ProfileEvent {
  const e = mapColumns(raw, EVENT_COLUMNS, EVENT_INTEGERS);
  const d = e.detail;
  e.detail = typeof d === "string" ? JSON.parse(d) : (d ?? {}); // SQLite: TEXT, PostgreSQL: JSONB (already parsed)
  return e as unknown as ProfileEvent;
}

export interface StoreOptions {
  clock?: () => Date;
  logger?: Logger;
  /** The migrations `migrate()` applies (default: all). Tests pass a prefix to build an older schema. */
  migrations?: readonly Migration[];
}

export class SqlRegistry implements Registry {
  readonly backend: Registry["backend"];
  private readonly clock: () => Date;
  private readonly logger: Logger | undefined;
  private readonly migrations: readonly Migration[] | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly db: Db,
    opts: StoreOptions = {},
  ) {
    this.backend = db.dialect.name;
    this.clock = opts.clock ?? (() => new Date());
    this.logger = opts.logger;
    this.migrations = opts.migrations;
  }

  private now(): string {
    return this.clock().toISOString();
  }

  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A listener's failure is its own: it never fails the write that already committed. */
  private changed(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch (err) {
        this.logger?.warn({ err }, "registry change listener failed");
      }
    }
  }

  async migrate(): Promise<void> {
    await this.guard(() => runMigrations(this.db, { now: () => this.now(), logger: this.logger, migrations: this.migrations }));
  }

  async insert(p: NewProfile): Promise<ProfileRow> {
    const v = parseNewProfile(p);
    const now = this.now();
    const row: ProfileRow = {
      ...v,
      id: randomUUID(),
      restart_count: 0,
      last_error: null,
      created_at: now,
      updated_at: now,
      last_health_check: null,
      last_started_at: null,
    };
    const sql = `INSERT INTO hermes_profiles (${PROFILE_LIST}) VALUES (${PROFILE_COLUMNS.map(() => "?").join(", ")}) RETURNING ${PROFILE_LIST}`;
    const r = await this.guard(
      () =>
        this.db.query(
          sql,
          PROFILE_COLUMNS.map((c) => row[c] as SqlValue),
        ),
      row,
    );
    this.changed();
    return mapProfile(one(r.rows));
  }

  async get(name: string): Promise<ProfileRow | undefined> {
    return this.selectOne("name", name);
  }

  async getByOrderId(orderId: string): Promise<ProfileRow | undefined> {
    return this.selectOne("order_id", orderId);
  }

  private async selectOne(column: "name" | "order_id", value: string): Promise<ProfileRow | undefined> {
    const r = await this.guard(() => this.db.query(`SELECT ${PROFILE_LIST} FROM hermes_profiles WHERE ${column} = ?`, [value]));
    return r.rows[0] ? mapProfile(r.rows[0]) : undefined;
  }

  /** Ordered by name (sorted here: engine collations disagree about '-'). */
  async list(): Promise<ProfileRow[]> {
    const r = await this.guard(() => this.db.query(`SELECT ${PROFILE_LIST} FROM hermes_profiles`));
    return r.rows.map(mapProfile).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async integrity(): Promise<{ ok: boolean; detail: string }> {
    if (this.backend === "sqlite") {
      const r = await this.db.query("PRAGMA integrity_check");
      const lines = r.rows.map((row) => String(Object.values(row)[0]));
      return { ok: lines.length === 1 && lines[0] === "ok", detail: `PRAGMA integrity_check: ${lines.slice(0, 3).join("; ")}` };
    }
    await this.db.query("SELECT 1");
    return { ok: true, detail: "PostgreSQL reachable (SELECT 1)" };
  }

  async update(name: string, patch: ProfilePatch): Promise<ProfileRow> {
    const p = parsePatch(patch) as Record<string, SqlValue>;
    const cols = Object.keys(p); // only whitelisted columns survive parsePatch (strict schema)
    const sets = [...cols.map((c) => `${c} = ?`), "updated_at = ?"].join(", ");
    const params = [...cols.map((c) => p[c] ?? null), this.now(), name];
    const sql = `UPDATE hermes_profiles SET ${sets} WHERE name = ? RETURNING ${PROFILE_LIST}`;
    const r = await this.guard(() => this.db.query(sql, params), p);
    if (!r.rows[0]) throw new NotFound("profile", name, "list the profiles with `hermes-admin list`");
    this.changed();
    return mapProfile(r.rows[0]);
  }

  async bumpRestarts(name: string): Promise<ProfileRow> {
    const sql = `UPDATE hermes_profiles SET restart_count = restart_count + 1, updated_at = ? WHERE name = ? RETURNING ${PROFILE_LIST}`;
    const r = await this.guard(() => this.db.query(sql, [this.now(), name]));
    if (!r.rows[0]) throw new NotFound("profile", name);
    this.changed();
    return mapProfile(r.rows[0]);
  }

  /** Throws NotFound when there is no such profile. Its events stay. */
  async remove(name: string): Promise<void> {
    const r = await this.guard(() => this.db.query("DELETE FROM hermes_profiles WHERE name = ?", [name]));
    if (r.rowCount === 0) throw new NotFound("profile", name);
    this.changed();
  }

  async addEvent(e: NewEvent): Promise<void> {
    const v = parseNewEvent(e);
    const sql = "INSERT INTO profile_events (profile, at, actor, action, result, detail) VALUES (?, ?, ?, ?, ?, ?)";
    await this.guard(() => this.db.query(sql, [v.profile, this.now(), v.actor, v.action, v.result, JSON.stringify(v.detail)]));
  }

  /** Newest first; `limit` defaults to 1000 (at most 10000). */
  async events(opts?: { profile?: string; limit?: number }): Promise<ProfileEvent[]> {
    const q = parseEventsQuery(opts ?? {});
    const where = q.profile === undefined ? "" : " WHERE profile = ?";
    const params = q.profile === undefined ? [q.limit] : [q.profile, q.limit];
    const r = await this.guard(() =>
      this.db.query(`SELECT ${EVENT_LIST} FROM profile_events${where} ORDER BY id DESC LIMIT ?`, params),
    );
    return r.rows.map(mapEvent);
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Run a statement; turn the driver's errors into our typed ones. `values` names what a Conflict is about. */
  private async guard<T>(fn: () => Promise<T>, values?: object): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof DomainError) throw e;
      const f = this.db.dialect.classify(e);
      if (f?.kind === "unique") {
        const field = f.column ?? "unknown";
        const value = (values as Record<string, unknown> | undefined)?.[field];
        const shown = typeof value === "string" || typeof value === "number" ? ` ${JSON.stringify(value)}` : "";
        throw new Conflict(`profile ${field}${shown} is already taken`, {
          hint: UNIQUE_HINTS[field],
          details: { field, ...(shown ? { value } : {}) },
          cause: e,
        });
      }
      if (f?.kind === "invalid") throw new InputInvalid(`registry refused the row: ${f.message}`, { cause: e });
      if (f?.kind === "unavailable") {
        throw new Unavailable(`registry (${this.backend}) is unavailable: ${f.message}`, {
          hint: "check that the registry database is reachable, then retry",
          cause: e,
        });
      }
      throw new DomainError("INTERNAL", `registry (${this.backend}): ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    }
  }
}

function one(rows: Record<string, unknown>[]): Record<string, unknown> {
  const r = rows[0];
  if (!r) throw new DomainError("INTERNAL", "registry: RETURNING gave no row");
  return r;
}
