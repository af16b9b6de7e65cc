/**
 * The fleet's leader lock on a PostgreSQL registry: a session-level advisory lock (`pg_try_advisory_lock`) held on one
 * dedicated connection, never a pooled one (a session lock belongs to the connection that took it, and a pooler in
 * transaction mode would hand it to someone else). Who holds it and how it is freed:
 * - the holder's process dies: its socket closes, PostgreSQL ends the session and frees the lock at once;
 * - the holder's host is cut off: PostgreSQL frees the lock only when it notices the dead connection. This session sets
 *   its own server-side TCP keepalive and `tcp_user_timeout` short, which bounds that (daemon/leadership.ts has the
 *   timing budget, and the holder steps down before the lock can be freed).
 * A session is never reused after an error: a query that failed or timed out may still have run (a late
 * `pg_try_advisory_lock` would leave a lock nobody knows it holds), so any failure destroys the connection.
 * The holder publishes its URL as the session's application_name; a standby reads it from pg_stat_activity (no table).
 */
import { createHash } from "node:crypto";
import type { Logger } from "@twilight/core";
import pg from "pg";

/** Server-side TCP settings for the lock session (PostgreSQL GUCs a session may set for its own connection). */
export interface ServerKeepalive {
  idleS: number;
  intervalS: number;
  count: number;
  userTimeoutMs: number;
}

export interface LeaderLockOptions {
  /** The lock's name; its key is derived from it (one fleet per database: advisory locks are per database). */
  name: string;
  /** Deadline of every query on the session (the leader's heartbeat included). */
  queryTimeoutMs: number;
  connectTimeoutMs: number;
  /** Client side: idle time before the first TCP keepalive probe. */
  keepAliveMs: number;
  server: ServerKeepalive;
  log?: Logger;
}

export interface LeaderLockSession {
  /** Take the lock if it is free (never waits). Never call again after it returned true. */
  tryAcquire(): Promise<boolean>;
  /** A round trip on the session that holds the lock: it answers, so the lock is still ours. */
  heartbeat(): Promise<void>;
  /** What the current holder published (its URL), if anyone holds the lock. */
  holder(): Promise<string | undefined>;
  /** Publish this session's URL for standbys to name in their answers. */
  publish(url: string): Promise<void>;
  /** Called once when the connection is gone (error, end, or a failed query). */
  onLost(fn: (why: string) => void): void;
  close(): Promise<void>;
}

const APP_LEADER = "twilight-fleet-leader";
const APP_STANDBY = "twilight-fleet-standby";
/** PostgreSQL keeps NAMEDATALEN - 1 bytes of an application_name. */
const APP_NAME_MAX = 63;

/** Pure: the lock's 63-bit key (positive, so its pg_locks halves are plain), from the first 8 bytes of SHA-256(name). */
export function lockKey(name: string): bigint {
  const h = createHash("sha256").update(name).digest();
  return h.readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
}

/** Pure: how pg_locks shows a bigint advisory key: classid = high 32 bits, objid = low 32 bits, objsubid = 1. */
export function lockKeyParts(key: bigint): { classid: number; objid: number } {
  return { classid: Number(key >> 32n), objid: Number(key & 0xffff_ffffn) };
}

/** Pure: the leader session's application_name (its URL after the tag, when it fits; the tag alone otherwise). */
export function leaderAppName(url: string): string {
  const named = `${APP_LEADER} ${url}`;
  return named.length <= APP_NAME_MAX && /^[\x20-\x7e]+$/.test(named) ? named : APP_LEADER;
}

/** Pure: the URL a leader published, from its application_name (undefined: not a leader's, or no URL). */
export function leaderUrlOf(appName: string | null | undefined): string | undefined {
  const m = /^twilight-fleet-leader (https?:\/\/\S+)$/.exec(appName ?? "");
  return m?.[1];
}

const HOLDER_SQL = `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = $1 AND l.objid = $2
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;

/** Open a lock session on the PostgreSQL database at `url` (connected, server keepalive set, no lock taken yet). */
export async function openLeaderLock(url: string, o: LeaderLockOptions): Promise<LeaderLockSession> {
  const client = new pg.Client({
    connectionString: url,
    application_name: APP_STANDBY,
    keepAlive: true,
    keepAliveInitialDelayMillis: o.keepAliveMs,
    connectionTimeoutMillis: o.connectTimeoutMs,
    query_timeout: o.queryTimeoutMs,
  });
  const key = lockKey(o.name);
  const parts = lockKeyParts(key);
  const listeners: Array<(why: string) => void> = [];
  let lost: string | undefined;
  const drop = (why: string) => {
    if (lost !== undefined) return;
    lost = why;
    // the socket goes now: ending politely could wait on a peer that is gone, and the session (with any lock a
    // timed-out query may have taken) must not outlive our belief that it is gone
    (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    void client.end().catch(() => undefined);
    for (const fn of listeners.splice(0)) fn(why);
  };
  client.on("error", (e: Error) => drop(`lock connection error: ${e.message}`));
  client.on("end", () => drop("lock connection closed"));
  const q = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> => {
    if (lost !== undefined) throw new Error(lost);
    try {
      return (await client.query<R>(sql, params)).rows;
    } catch (e) {
      drop(`lock query failed: ${(e as Error).message}`);
      throw e;
    }
  };
  try {
    await client.connect();
    await setServerKeepalive(client, o.server, o.log);
  } catch (e) {
    drop("setup failed");
    throw e;
  }
  return {
    async tryAcquire() {
      const rows = await q<{ got: boolean }>("SELECT pg_try_advisory_lock($1::bigint) AS got", [key.toString()]);
      return rows[0]?.got === true;
    },
    async heartbeat() {
      await q("SELECT 1");
    },
    async holder() {
      const rows = await q<{ application_name: string | null }>(HOLDER_SQL, [parts.classid, parts.objid]);
      return leaderUrlOf(rows[0]?.application_name);
    },
    async publish(u) {
      await q("SELECT set_config('application_name', $1, false)", [leaderAppName(u)]);
    },
    onLost(fn) {
      if (lost !== undefined) fn(lost);
      else listeners.push(fn);
    },
    async close() {
      listeners.splice(0); // an orderly close is not a loss
      if (lost !== undefined) return;
      lost = "closed";
      await client.end().catch(() => undefined); // ends the session: PostgreSQL frees the lock
    },
  };
}

/**
 * The server notices a dead lock connection within about max(idle + interval x count, user timeout) of its last
 * packet from us: these are per-session settings, so they bound the failover without touching postgresql.conf.
 * Over a Unix socket PostgreSQL ignores them (no network in between to partition). A server that does not know one
 * (tcp_user_timeout: PostgreSQL 12+) keeps its default for it, and the log says so.
 */
async function setServerKeepalive(client: pg.Client, k: ServerKeepalive, log?: Logger): Promise<void> {
  const settings: Array<[string, number]> = [
    ["tcp_keepalives_idle", k.idleS],
    ["tcp_keepalives_interval", k.intervalS],
    ["tcp_keepalives_count", k.count],
    ["tcp_user_timeout", k.userTimeoutMs],
  ];
  for (const [name, value] of settings) {
    try {
      await client.query("SELECT set_config($1, $2, false)", [name, String(value)]);
    } catch (e) {
      log?.warn({ setting: name, err: (e as Error).message }, "leader lock: server keeps its default for a TCP setting");
    }
  }
}
