/**
 * File access inside a profile directory by the root daemon, where the tenant is hostile: never follow a link, never
 * trust an owner. Reads open with O_NOFOLLOW and check the open file (fstat: a regular file, an expected owner);
 * writes create a new file with O_EXCL|O_NOFOLLOW, set owner and mode on the descriptor, then rename into place;
 * trees are walked with lstat and changed with lchown, never descending into a link.
 */
import { constants } from "node:fs";
import { lchown, lstat, open, readdir, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Precondition } from "@twilight/core";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = constants;

export interface ReadCheck {
  /** uids that may own the file (e.g. root and the profile's uid). */
  owners: readonly number[];
  maxBytes?: number;
}

function refuse(path: string, why: string): Precondition {
  return new Precondition(`refusing to use ${path}: ${why}`, {
    hint: "the tenant may have replaced a file the fleet owns; inspect the profile (hermes-admin events, ls -la), restore it from a backup or re-create the profile",
  });
}

/** Read a file without following a link at its last component, checking what was opened. */
export async function readNoFollow(path: string, check: ReadCheck): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ELOOP" || code === "EMLINK") throw refuse(path, "it is a symbolic link");
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refuse(path, "it is not a regular file");
    if (!check.owners.includes(st.uid)) throw refuse(path, `it is owned by uid ${st.uid}`);
    if (st.nlink !== 1) throw refuse(path, `it has ${st.nlink} hard links`);
    const max = check.maxBytes ?? 1 << 20;
    if (st.size > max) throw refuse(path, `it is larger than ${max} bytes`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

export interface WriteOwner {
  uid: number;
  gid: number;
  mode: number;
}

/** Replace `dir/name` atomically with a new file created here (never through a planted link), owned as given. */
export async function writeNoFollow(dir: string, name: string, data: string, owner: WriteOwner): Promise<void> {
  const tmp = join(dir, `.${name}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fh = await open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(data);
    await fh.chown(owner.uid, owner.gid);
    await fh.chmod(owner.mode);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, join(dir, name));
}

/** Set owner and mode of an existing regular file without following a link (opened O_NOFOLLOW, changed by fd). */
export async function ownFileNoFollow(path: string, owner: WriteOwner): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ELOOP") throw refuse(path, "it is a symbolic link");
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw refuse(path, "it is not a regular file");
    await fh.chown(owner.uid, owner.gid);
    await fh.chmod(owner.mode);
  } finally {
    await fh.close();
  }
}

/** lchown every entry of a tree to uid:gid; links are changed themselves, never followed or descended. */
export async function lchownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  for (const ent of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) await lchownTree(p, uid, gid);
    else await lchown(p, uid, gid);
  }
}

/** lstat, or undefined when absent. */
export async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/**
 * Delete what `uid` owns under shared scratch directories (/tmp, /var/tmp, /dev/shm), so a uid handed to the next
 * profile inherits nothing. Walks with lstat, never follows a link, stops after `maxEntries`. Returns how many it removed.
 */
export async function removeFilesOfUid(
  uid: number,
  roots: readonly string[],
  opts: { exclude?: readonly string[]; maxEntries?: number } = {},
): Promise<number> {
  const maxEntries = opts.maxEntries ?? 200_000;
  const exclude = new Set(opts.exclude ?? []);
  let seen = 0;
  let removed = 0;
  const walk = async (dir: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      if (++seen > maxEntries) return;
      const p = join(dir, e);
      if (exclude.has(p)) continue;
      const st = await lstatOrUndefined(p).catch(() => undefined);
      if (!st) continue;
      if (st.uid === uid) {
        await rm(p, { recursive: true, force: true }).catch(() => undefined);
        removed++;
      } else if (st.isDirectory()) await walk(p);
    }
  };
  for (const r of roots) await walk(r);
  return removed;
}
