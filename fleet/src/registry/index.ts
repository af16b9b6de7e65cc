/**
 * The registry, chosen in one place from a URL: `sqlite:<path>`, `file:` URLs and plain paths open SQLite;
 * `postgres://` and `postgresql://` open PostgreSQL. Nothing else in the fleet asks which backend it is talking to.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigInvalid, DomainError, Unavailable } from "@twilight/core";
import { type LeaderLockOptions, type LeaderLockSession, openLeaderLock } from "./leader-lock.js";
import { openPostgresRegistry, type PostgresOptions } from "./postgres.js";
import { openSqliteRegistry, SQLITE_MEMORY } from "./sqlite.js";
import type { Registry } from "./types.js";

export * from "./types.js";

export type RegistryLocation = { backend: "sqlite"; path: string } | { backend: "postgres"; url: string };

/** The embedded default: `<root>/ops/profiles.db`. */
export function defaultRegistryUrl(root: string): string {
  return `sqlite:${join(root, "ops", "profiles.db")}`;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):/i;
const invalid = (why: string) =>
  new ConfigInvalid(`registry URL ${why}`, {
    hint: "use sqlite:<path>, a file path, postgres://user:pass@host:port/db or postgresql://...",
  });

/**
 * Where a registry URL points. Pure: relative SQLite paths stay relative (the opener resolves them against the cwd).
 * `sqlite:///abs/file.db` is the URL spelling of `sqlite:/abs/file.db`; `sqlite::memory:` is an in-memory database.
 */
export function parseRegistryUrl(url: string): RegistryLocation {
  const u = url.trim();
  if (u === "") throw invalid("is empty");
  const scheme = SCHEME.exec(u)?.[1]?.toLowerCase();
  if (scheme === "postgres" || scheme === "postgresql") {
    if (!u.slice(scheme.length + 1).startsWith("//") || !URL.canParse(u)) {
      throw invalid(`${describeRegistryUrl(u)} is not a valid ${scheme}:// URL`);
    }
    return { backend: "postgres", url: u };
  }
  if (scheme === "sqlite") {
    let path = u.slice("sqlite:".length);
    if (path.startsWith("//")) path = path.slice(2);
    if (path === "") throw invalid("sqlite: names no file");
    return { backend: "sqlite", path };
  }
  if (scheme === "file") {
    try {
      return { backend: "sqlite", path: fileURLToPath(u) };
    } catch (e) {
      throw invalid(`${u} is not a file URL: ${(e as Error).message}`);
    }
  }
  // a plain path; only a URL-looking string (scheme://) is refused, so a file named "a:b.db" still works
  if (scheme !== undefined && u.slice(scheme.length + 1).startsWith("//")) {
    throw invalid(`scheme ${JSON.stringify(scheme)} is not supported`);
  }
  return { backend: "sqlite", path: u };
}

/** The URL with any password replaced, for logs and messages. */
export function describeRegistryUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const k of [...u.searchParams.keys()]) if (/pass/i.test(k)) u.searchParams.set(k, "***");
    return u.toString();
  } catch {
    return url.replace(/(\/\/[^:/@]*:)[^@/]*@/, "$1***@");
  }
}

export interface OpenRegistryOptions extends PostgresOptions {
  /** Apply pending migrations before returning (default true; `migrate()` stays safe to call again). */
  migrate?: boolean;
}

/** Open the registry a URL points to, migrated unless told otherwise. */
export async function openRegistry(url: string, opts: OpenRegistryOptions = {}): Promise<Registry> {
  const loc = parseRegistryUrl(url);
  let reg: Registry;
  try {
    reg = loc.backend === "sqlite" ? openSqliteRegistry(loc.path, opts) : openPostgresRegistry(loc.url, opts);
  } catch (e) {
    if (e instanceof DomainError) throw e;
    const where = loc.backend === "sqlite" ? loc.path : describeRegistryUrl(loc.url);
    throw new Unavailable(`cannot open the ${loc.backend} registry at ${where}: ${(e as Error).message}`, { cause: e });
  }
  if (opts.migrate ?? true) {
    try {
      await reg.migrate();
    } catch (e) {
      await reg.close().catch(() => undefined);
      throw e;
    }
  }
  return reg;
}

/**
 * How to open the leader lock of the registry at `url` (daemon/leadership.ts): a PostgreSQL session, or undefined for
 * SQLite, whose one file lives on one host: its daemon always leads.
 */
export function leaderLockFor(url: string): ((o: LeaderLockOptions) => Promise<LeaderLockSession>) | undefined {
  const loc = parseRegistryUrl(url);
  return loc.backend === "postgres" ? (o) => openLeaderLock(loc.url, o) : undefined;
}

export type { LeaderLockSession };
export { SQLITE_MEMORY };
