/**
 * Copy a profile directory to another node's root (move between swarm nodes), keeping owners, modes and times, and
 * never following a link: the source is the tenant's. Entries are read with O_NOFOLLOW after an lstat, links are copied
 * as links (never resolved), anything but directories, files and links (fifos, sockets, devices) is skipped.
 * Files are written to a temporary name in their directory and renamed over the old entry, so a link at the
 * destination is replaced, never written through.
 * `sync: true` (the final pass, with the source stopped) copies only what changed (size or mtime to the microsecond) plus every SQLite
 * file, and deletes what the source no longer has: the destination ends equal to the source.
 */
import { constants } from "node:fs";
import { chmod, lchown, lstat, mkdir, open, readdir, readlink, rename, rm, symlink, utimes } from "node:fs/promises";
import { join } from "node:path";

export interface CopyStats {
  files: number;
  bytes: number;
  skipped: number;
  removed: number;
}

/** ns -> seconds as utimes takes them (a double keeps about a microsecond at today's epoch). */
const secs = (ns: bigint) => Number(ns / 1000n) / 1e6;
/** Equal to the microsecond, give or take the one a double loses on the way through utimes. */
const near = (a: bigint, b: bigint) => {
  const d = a / 1000n - b / 1000n;
  return d >= -1n && d <= 1n;
};

/** SQLite databases and their journals are always copied in a sync: equal size and mtime do not prove equal pages. */
const ALWAYS = /\.(db|sqlite|sqlite3)(-wal|-shm|-journal)?$/;

async function copyFile(src: string, dst: string, mode: number, uid: number, gid: number, atime: number, mtime: number) {
  const tmp = `${dst}.twl-copy-${process.pid}`;
  const from = await open(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  let bytes = 0;
  try {
    const to = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (;;) {
        const { bytesRead } = await from.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        await to.write(buf, 0, bytesRead);
        bytes += bytesRead;
      }
      await to.chown(uid, gid);
      await to.chmod(mode & 0o7777);
      await to.sync();
    } finally {
      await to.close();
    }
    await utimes(tmp, atime, mtime);
    await rename(tmp, dst);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    await from.close();
  }
  return bytes;
}

/** Copy `src` (a directory) to `dst` (created when missing), as described above. */
export async function copyTree(src: string, dst: string, opts: { sync?: boolean } = {}): Promise<CopyStats> {
  const stats: CopyStats = { files: 0, bytes: 0, skipped: 0, removed: 0 };
  const top = await lstat(src);
  if (!top.isDirectory()) throw new Error(`${src} is not a directory`);
  await walk(src, dst, top, opts.sync ?? false, stats);
  return stats;
}

async function ensureDir(dst: string, mode: number, uid: number, gid: number): Promise<void> {
  const have = await lstat(dst).catch(() => undefined);
  if (have && !have.isDirectory()) await rm(dst, { force: true });
  if (!have?.isDirectory()) await mkdir(dst, { mode: 0o700 });
  await lchown(dst, uid, gid);
  await chmod(dst, mode & 0o7777);
}

async function walk(
  src: string,
  dst: string,
  st: Awaited<ReturnType<typeof lstat>>,
  sync: boolean,
  stats: CopyStats,
): Promise<void> {
  await ensureDir(dst, Number(st.mode), Number(st.uid), Number(st.gid));
  const names = await readdir(src);
  const seen = new Set(names);
  for (const name of names) {
    const s = join(src, name);
    const d = join(dst, name);
    const e = await lstat(s, { bigint: true }).catch(() => undefined);
    if (!e) continue; // gone since the listing
    const mode = Number(e.mode);
    const uid = Number(e.uid);
    const gid = Number(e.gid);
    if (e.isDirectory()) {
      await walk(s, d, await lstat(s), sync, stats);
    } else if (e.isSymbolicLink()) {
      const target = await readlink(s);
      await rm(d, { recursive: true, force: true });
      await symlink(target, d);
      await lchown(d, uid, gid);
    } else if (e.isFile()) {
      const have = await lstat(d, { bigint: true }).catch(() => undefined);
      const same =
        sync &&
        have?.isFile() &&
        have.size === e.size &&
        near(have.mtimeNs, e.mtimeNs) &&
        have.uid === e.uid &&
        !ALWAYS.test(name);
      if (same) continue;
      if (have?.isDirectory()) await rm(d, { recursive: true, force: true });
      stats.bytes += await copyFile(s, d, mode, uid, gid, secs(e.atimeNs), secs(e.mtimeNs));
      stats.files++;
    } else {
      stats.skipped++;
    }
  }
  if (sync)
    for (const name of await readdir(dst))
      if (!seen.has(name)) {
        await rm(join(dst, name), { recursive: true, force: true });
        stats.removed++;
      }
}
