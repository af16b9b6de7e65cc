/**
 * What a backup takes from a profile directory, read by root where the tenant is hostile: the tenant's directories are
 * walked without following a link, and a file is taken only if the opened file is a regular file owned by the
 * profile's uid, with one link, on the profile's filesystem (so a planted link or hard link cannot pull a host file or
 * another tenant's file in). state.db comes from an online SQLite backup run as the tenant's uid (sqlite-snapshot.ts).
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Precondition } from "@twilight/core";
import Database from "better-sqlite3";
import { lstatOrUndefined } from "../lib/safe-fs.js";
import { TENANT_DIRS } from "./layout.js";

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = constants;
/** Left out of the walk: the live database files (the snapshot replaces them), scratch space. */
const SKIP = new Set(["data/state.db", "data/state.db-wal", "data/state.db-shm", "data/state.db-journal", "home/tmp"]);
const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

export interface CollectLimits {
  maxFiles: number;
  maxBytes: number;
}
export const DEFAULT_LIMITS: CollectLimits = { maxFiles: 50_000, maxBytes: 1024 * 1024 * 1024 };

export interface Collected {
  files: Map<string, { data: Buffer; mode: number }>;
  skipped: Array<{ path: string; reason: string }>;
  bytes: number;
}

/** The tenant's files, keyed `tenant/<dir>/<path>`. */
export async function collectTenantFiles(dir: string, uid: number, limits = DEFAULT_LIMITS): Promise<Collected> {
  const out: Collected = { files: new Map(), skipped: [], bytes: 0 };
  const dev = (await lstat(dir)).dev;
  const walk = async (rel: string): Promise<void> => {
    let ents: import("node:fs").Dirent[];
    try {
      ents = await readdir(join(dir, rel), { withFileTypes: true });
    } catch (e) {
      out.skipped.push({ path: rel, reason: `unreadable directory (${(e as NodeJS.ErrnoException).code})` });
      return;
    }
    for (const ent of ents) {
      const r = `${rel}/${ent.name}`;
      if (SKIP.has(r) || ent.name.startsWith(".twl-snapshot-")) continue;
      if (ent.isSymbolicLink()) {
        out.skipped.push({ path: r, reason: "symbolic link (not followed)" });
        continue;
      }
      if (ent.isDirectory()) {
        const st = await lstatOrUndefined(join(dir, r));
        if (st?.isDirectory() && st.dev === dev) await walk(r);
        else out.skipped.push({ path: r, reason: "changed while walked or on another filesystem" });
        continue;
      }
      if (!ent.isFile()) {
        out.skipped.push({ path: r, reason: "not a regular file" });
        continue;
      }
      if (out.files.size >= limits.maxFiles)
        throw new Precondition(`profile directory ${dir} has more than ${limits.maxFiles} files`, {
          hint: "clean up the profile's files (hermes-admin exec NAME -- ...) and back up again",
        });
      const taken = await readTenantFile(join(dir, r), uid, dev, limits.maxBytes - out.bytes);
      if (typeof taken === "string") {
        out.skipped.push({ path: r, reason: taken });
        continue;
      }
      out.files.set(`tenant/${r}`, taken);
      out.bytes += taken.data.length;
    }
  };
  for (const d of TENANT_DIRS) {
    const st = await lstatOrUndefined(join(dir, d));
    if (st?.isDirectory()) await walk(d);
    else if (st) out.skipped.push({ path: d, reason: "not a directory" });
  }
  return out;
}

/** The file's bytes and mode, or why it was left out. */
async function readTenantFile(path: string, uid: number, dev: number, budget: number) {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    return `not opened (${(e as NodeJS.ErrnoException).code})`;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return "not a regular file";
    if (st.uid !== uid) return `owned by uid ${st.uid}, not the profile`;
    if (st.nlink !== 1) return `${st.nlink} hard links`;
    if (st.dev !== dev) return "on another filesystem";
    if (st.size > budget)
      throw new Precondition(`profile files exceed the backup limit at ${path}`, {
        hint: "clean up large files in the profile's home/ or logs/ and back up again",
      });
    return { data: await fh.readFile(), mode: st.mode & 0o777 };
  } finally {
    await fh.close();
  }
}

/** An online backup of `<dir>/data/state.db`, made by a child running as the tenant; undefined when there is none. */
export async function snapshotStateDb(
  dir: string,
  owner: { uid: number; gid: number },
  o: { timeoutMs?: number; maxBytes?: number } = {},
): Promise<Buffer | undefined> {
  const data = join(dir, "data");
  const st = await lstatOrUndefined(join(data, "state.db"));
  if (!st) return undefined;
  const script = fileURLToPath(new URL("./sqlite-snapshot.js", import.meta.url));
  const max = o.maxBytes ?? DEFAULT_LIMITS.maxBytes;
  return await new Promise<Buffer>((resolve, reject) => {
    const child = spawn(process.execPath, [script, join(data, "state.db"), data], {
      uid: owner.uid,
      gid: owner.gid,
      cwd: data,
      env: { PATH: "/usr/bin:/bin", HOME: join(dir, "home") },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: o.timeoutMs ?? 120_000,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) child.kill("SIGKILL");
      else chunks.push(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      err = (err + c.toString()).slice(-2000);
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const db = Buffer.concat(chunks);
      if (code === 0 && db.subarray(0, 16).equals(SQLITE_MAGIC)) return resolve(db);
      reject(
        new Precondition(`could not snapshot ${join(data, "state.db")}: ${err.trim() || `exit ${code ?? signal}`}`, {
          hint:
            size > max
              ? "the conversation store is larger than the backup limit"
              : "check the profile's state.db (hermes-admin exec NAME -- ls -la data) and try again",
        }),
      );
    });
  });
}

/**
 * Give a restored conversation store to a new name: the runtime keeps every row under its profile's name (a state.db
 * copied to another profile shows nothing there), so a restore under another name re-owns the sessions. Runs on the
 * staging copy, before the tenant can reach it; the archived schema is not trusted (no triggers, no extensions).
 */
export function renameSessions(dbFile: string, from: string, to: string): number {
  const db = new Database(dbFile, { fileMustExist: true });
  try {
    db.pragma("trusted_schema = OFF");
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sessions'").get();
    if (!hasTable) return 0;
    for (const t of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() as Array<{ name: string }>)
      db.exec(`DROP TRIGGER "${t.name.replace(/"/g, '""')}"`);
    return db.prepare("UPDATE sessions SET profile = ? WHERE profile = ?").run(to, from).changes;
  } finally {
    db.close();
  }
}
