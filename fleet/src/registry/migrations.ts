/**
 * Versioned registry migrations: ordered SQL steps shared by SQLite and PostgreSQL (with `{{TOKEN}}` type names from
 * dialect.ts), and a per-dialect variant only where the engines truly differ (the append-only triggers).
 * A migration is applied once, in one transaction together with its `schema_migrations` row; an applied migration
 * must never be edited (its checksum is verified at every start): add a new one instead.
 */
import { createHash } from "node:crypto";
import { Precondition } from "@twilight/core";
import type { Logger } from "pino";
import { type Db, type Dialect, resolveDdl } from "./dialect.js";

/** Shared SQL, or one variant per engine (an engine without a variant skips the step). */
export type Step = string | { sqlite?: string; postgres?: string };

export interface Migration {
  version: number;
  name: string;
  steps: readonly Step[];
}

const SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at {{TIMESTAMP}} NOT NULL
){{STRICT}}`;

const APPEND_ONLY = "profile_events is append-only";

/** hermes_profiles' columns after migration 3, in table order (the SQLite rebuild of migration 4 copies them). */
const V4_COLUMNS = [
  "id, name, tier, user_id, status, pid, container_id, profile_path, created_at, last_health_check, desired_state",
  "port, uid, gid, generation, image, plan, order_id, restart_count, last_error, secrets_fingerprint, updated_at",
  "last_started_at, workload_handle",
].join(", ");

/**
 * hermes_profiles as migrations 4 and 5 rebuild it on SQLite (which cannot alter a CHECK): same columns, order and
 * constraints; only the table name and the tier set differ. Its text must not change for migration 4's checksum
 * (whitespace aside: the checksum folds it).
 */
function profilesTableV4(table: string, tiers: readonly string[]): string {
  const tierList = tiers.map((t) => `'${t}'`).join(", ");
  return `CREATE TABLE ${table} (
          id TEXT PRIMARY KEY,
          name TEXT NOT NULL CONSTRAINT hermes_profiles_name_key UNIQUE,
          tier TEXT NOT NULL CHECK (tier IN (${tierList})),
          user_id TEXT,
          status TEXT NOT NULL CHECK (status IN ('creating', 'starting', 'running', 'stopped', 'error', 'migrating', 'sleeping')),
          pid INTEGER CHECK (pid IS NULL OR pid > 0),
          container_id TEXT,
          profile_path TEXT NOT NULL,
          created_at {{TIMESTAMP}} NOT NULL,
          last_health_check {{TIMESTAMP}},
          desired_state TEXT NOT NULL DEFAULT 'stopped' CHECK (desired_state IN ('running', 'stopped')),
          port INTEGER NOT NULL CONSTRAINT hermes_profiles_port_key UNIQUE CHECK (port BETWEEN 1 AND 65535),
          uid {{BIGINT}} NOT NULL CONSTRAINT hermes_profiles_uid_key UNIQUE CHECK (uid >= 0),
          gid {{BIGINT}} NOT NULL CHECK (gid >= 0),
          generation INTEGER NOT NULL DEFAULT 1 CHECK (generation >= 0),
          image TEXT,
          plan TEXT,
          order_id TEXT,
          restart_count INTEGER NOT NULL DEFAULT 0 CHECK (restart_count >= 0),
          last_error TEXT,
          secrets_fingerprint TEXT NOT NULL,
          updated_at {{TIMESTAMP}} NOT NULL,
          last_started_at {{TIMESTAMP}},
          workload_handle TEXT
        ){{STRICT}}`;
}

/** The SQLite steps that rebuild hermes_profiles through `table` (rows copied inside the migration's transaction). */
function rebuildProfilesSqlite(table: string, tiers: readonly string[]): Step[] {
  return [
    { sqlite: profilesTableV4(table, tiers) },
    { sqlite: `INSERT INTO ${table} SELECT ${V4_COLUMNS} FROM hermes_profiles` },
    { sqlite: "DROP TABLE hermes_profiles" },
    { sqlite: `ALTER TABLE ${table} RENAME TO hermes_profiles` },
    {
      sqlite: "CREATE UNIQUE INDEX hermes_profiles_order_id_key ON hermes_profiles (order_id) WHERE order_id IS NOT NULL",
    },
  ];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "hermes_profiles",
    steps: [
      // The plan's columns first (section 3.1), then what a real system needs. Column names are a contract.
      `CREATE TABLE hermes_profiles (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL CONSTRAINT hermes_profiles_name_key UNIQUE,
        tier TEXT NOT NULL CHECK (tier IN ('prefab', 'container')),
        user_id TEXT,
        status TEXT NOT NULL CHECK (status IN ('creating', 'starting', 'running', 'stopped', 'error', 'migrating')),
        pid INTEGER CHECK (pid IS NULL OR pid > 0),
        container_id TEXT,
        profile_path TEXT NOT NULL,
        created_at {{TIMESTAMP}} NOT NULL,
        last_health_check {{TIMESTAMP}},
        desired_state TEXT NOT NULL DEFAULT 'stopped' CHECK (desired_state IN ('running', 'stopped')),
        pid_start_time TEXT,
        port INTEGER NOT NULL CONSTRAINT hermes_profiles_port_key UNIQUE CHECK (port BETWEEN 1 AND 65535),
        uid {{BIGINT}} NOT NULL CONSTRAINT hermes_profiles_uid_key UNIQUE CHECK (uid >= 0),
        gid {{BIGINT}} NOT NULL CHECK (gid >= 0),
        generation INTEGER NOT NULL DEFAULT 1 CHECK (generation >= 0),
        image TEXT,
        plan TEXT,
        order_id TEXT,
        restart_count INTEGER NOT NULL DEFAULT 0 CHECK (restart_count >= 0),
        last_error TEXT,
        secrets_fingerprint TEXT NOT NULL,
        updated_at {{TIMESTAMP}} NOT NULL,
        last_started_at {{TIMESTAMP}}
      ){{STRICT}}`,
      "CREATE UNIQUE INDEX hermes_profiles_order_id_key ON hermes_profiles (order_id) WHERE order_id IS NOT NULL",
    ],
  },
  {
    version: 2,
    name: "profile_events",
    steps: [
      // No foreign key to hermes_profiles: the audit trail outlives the profile it tells about.
      `CREATE TABLE profile_events (
        id {{ID}},
        profile TEXT NOT NULL,
        at {{TIMESTAMP}} NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        result TEXT NOT NULL CHECK (result IN ('ok', 'error', 'info')),
        detail {{JSON}} NOT NULL
      ){{STRICT}}`,
      "CREATE INDEX profile_events_profile_idx ON profile_events (profile, id)",
      {
        sqlite: `CREATE TRIGGER profile_events_no_update BEFORE UPDATE ON profile_events
          BEGIN SELECT RAISE(ABORT, '${APPEND_ONLY}: UPDATE refused'); END`,
        postgres: `CREATE FUNCTION profile_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
          BEGIN RAISE EXCEPTION '${APPEND_ONLY}: % refused', TG_OP; END $fn$`,
      },
      {
        sqlite: `CREATE TRIGGER profile_events_no_delete BEFORE DELETE ON profile_events
          BEGIN SELECT RAISE(ABORT, '${APPEND_ONLY}: DELETE refused'); END`,
        postgres: `CREATE TRIGGER profile_events_no_change BEFORE UPDATE OR DELETE ON profile_events
          FOR EACH ROW EXECUTE FUNCTION profile_events_append_only()`,
      },
      {
        // SQLite has no TRUNCATE (DELETE without WHERE fires the trigger above); PostgreSQL needs its own trigger.
        postgres: `CREATE TRIGGER profile_events_no_truncate BEFORE TRUNCATE ON profile_events
          FOR EACH STATEMENT EXECUTE FUNCTION profile_events_append_only()`,
      },
    ],
  },
  {
    version: 3,
    name: "workload_handle",
    steps: [
      // One driver-owned column replaces driver-specific ones: a third driver (swarm) adds no column.
      "ALTER TABLE hermes_profiles ADD COLUMN workload_handle TEXT",
      {
        sqlite: `UPDATE hermes_profiles SET workload_handle = (
          SELECT json_group_object(key, value) FROM json_each(
            json_object('pid', pid, 'pidStartTime', pid_start_time, 'containerId', container_id)
          ) WHERE value IS NOT NULL
        ) WHERE pid IS NOT NULL OR container_id IS NOT NULL`,
        postgres: `UPDATE hermes_profiles SET workload_handle = jsonb_strip_nulls(
          jsonb_build_object('pid', pid, 'pidStartTime', pid_start_time, 'containerId', container_id)
        )::text WHERE pid IS NOT NULL OR container_id IS NOT NULL`,
      },
      "ALTER TABLE hermes_profiles DROP COLUMN pid_start_time",
    ],
  },
  {
    version: 4,
    name: "status_sleeping",
    steps: [
      // Hibernation adds the `sleeping` status. PostgreSQL replaces the CHECK; SQLite cannot alter a CHECK, so the
      // table is rebuilt (same columns, order, constraints and index; the rows are copied inside this transaction).
      {
        postgres: `ALTER TABLE hermes_profiles DROP CONSTRAINT hermes_profiles_status_check,
          ADD CONSTRAINT hermes_profiles_status_check
          CHECK (status IN ('creating', 'starting', 'running', 'stopped', 'error', 'migrating', 'sleeping'))`,
        sqlite: profilesTableV4("hermes_profiles_v4", ["prefab", "container"]),
      },
      { sqlite: `INSERT INTO hermes_profiles_v4 SELECT ${V4_COLUMNS} FROM hermes_profiles` },
      { sqlite: "DROP TABLE hermes_profiles" },
      { sqlite: "ALTER TABLE hermes_profiles_v4 RENAME TO hermes_profiles" },
      {
        sqlite: "CREATE UNIQUE INDEX hermes_profiles_order_id_key ON hermes_profiles (order_id) WHERE order_id IS NOT NULL",
      },
    ],
  },
  {
    version: 5,
    name: "tier_swarm",
    steps: [
      // The swarm tier (issue 12). PostgreSQL replaces the tier CHECK; SQLite rebuilds the table as migration 4 did.
      {
        postgres: `ALTER TABLE hermes_profiles DROP CONSTRAINT hermes_profiles_tier_check,
          ADD CONSTRAINT hermes_profiles_tier_check CHECK (tier IN ('prefab', 'container', 'swarm'))`,
      },
      ...rebuildProfilesSqlite("hermes_profiles_v5", ["prefab", "container", "swarm"]),
    ],
  },
  {
    version: 6,
    name: "profile_node",
    steps: [
      // Multi-node swarm (issue 12): the node that holds a profile's directory (its io.twilight.node name); NULL = the
      // fleet's own host. A plain added column on both engines. NOTE: a later SQLite table rebuild must carry it
      // (rebuildProfilesSqlite copies the V4 columns only).
      "ALTER TABLE hermes_profiles ADD COLUMN node TEXT",
    ],
  },
];

/** The SQL one migration runs on one engine, in order. */
export function resolveSteps(m: Migration, dialect: Dialect): string[] {
  return m.steps.flatMap((s) => {
    const sql = typeof s === "string" ? s : s[dialect.name];
    return sql === undefined ? [] : [resolveDdl(dialect, sql)];
  });
}

/** SHA-256 over the resolved steps: shows that an applied migration was edited afterwards. */
export function migrationChecksum(m: Migration, dialect: Dialect): string {
  const h = createHash("sha256");
  for (const s of resolveSteps(m, dialect)) h.update(s.replace(/\s+/g, " ").trim()).update("\n");
  return h.digest("hex");
}

export interface MigrateOptions {
  now: () => string;
  logger?: Logger;
  migrations?: readonly Migration[];
}

/**
 * Apply the pending migrations in version order. Safe at every start and under concurrent migrators: each migration
 * inserts its `schema_migrations` row first, in the same transaction as its steps, so a second migrator of the same
 * version fails on that row's primary key and skips it (PostgreSQL also takes an advisory lock, SQLite BEGIN IMMEDIATE).
 */
export async function runMigrations(db: Db, opts: MigrateOptions): Promise<number[]> {
  const migrations = opts.migrations ?? MIGRATIONS;
  const { dialect } = db;
  const lock = dialect.migrationLock ? [{ sql: dialect.migrationLock }] : [];
  await db.atomic([...lock, { sql: resolveDdl(dialect, SCHEMA_MIGRATIONS) }]);

  const applied = new Map<number, string>();
  for (const r of (await db.query("SELECT version, checksum FROM schema_migrations")).rows) {
    applied.set(Number(r.version), String(r.checksum));
  }
  const latest = Math.max(0, ...migrations.map((m) => m.version));
  const newest = Math.max(0, ...applied.keys());
  if (newest > latest) {
    throw new Precondition(`registry schema is at version ${newest}, newer than this build knows (${latest})`, {
      hint: "run a newer build of the fleet against this registry, or restore a backup taken before the upgrade",
    });
  }
  for (const m of migrations) {
    const sum = applied.get(m.version);
    if (sum !== undefined && sum !== migrationChecksum(m, dialect)) {
      throw new Precondition(`registry migration ${m.version} (${m.name}) was changed after it was applied`, {
        hint: "restore the migration's original SQL and add the change as a new migration",
      });
    }
  }

  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    const record = {
      sql: "INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
      params: [m.version, m.name, migrationChecksum(m, dialect), opts.now()],
    };
    try {
      await db.atomic([...lock, record, ...resolveSteps(m, dialect).map((sql) => ({ sql }))]);
    } catch (e) {
      const f = dialect.classify(e);
      if (f?.kind === "unique" && f.table === "schema_migrations") continue; // a concurrent migrator applied it
      throw e;
    }
    done.push(m.version);
    opts.logger?.info({ backend: dialect.name, version: m.version, migration: m.name }, "registry migration applied");
  }
  return done;
}
