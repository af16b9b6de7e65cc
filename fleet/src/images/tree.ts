/**
 * An image filesystem as a list of entries (files from the host or in memory, directories, symlinks), written as a
 * deterministic tar (sorted, fixed mtime, root-owned, world-readable) and hashed by content. The content hash is what
 * a rebuild compares with the image's label to skip work.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, readFile, readlink, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join, posix } from "node:path";
import type { Readable } from "node:stream";
import { type Pack, pack as tarPack } from "tar-stream";

type Headers = Parameters<Pack["entry"]>[0];

export type Entry =
  | { type: "dir"; path: string; mode: number }
  | { type: "symlink"; path: string; target: string }
  | { type: "file"; path: string; mode: number; source: string; size: number }
  | { type: "data"; path: string; mode: number; data: Buffer };

/** Fixed mtime for every entry, so the same inputs give the same tar. */
const MTIME = new Date("2020-01-01T00:00:00Z");

export class Tree {
  private readonly entries = new Map<string, Entry>();

  /** Paths are absolute image paths ("/usr/bin/id") or context-relative ("app/core/dist/x.js"); stored without a leading slash. */
  add(e: Entry): void {
    const path = e.path.replace(/^\/+/, "");
    if (!path) return;
    const prev = this.entries.get(path);
    if (prev && prev.type === "dir" && e.type === "dir") return;
    this.entries.set(path, { ...e, path });
  }

  has(path: string): boolean {
    return this.entries.has(path.replace(/^\/+/, ""));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Parents first, then lexical order. */
  list(): Entry[] {
    const withParents = new Map(this.entries);
    for (const p of this.entries.keys()) {
      for (let d = posix.dirname(p); d !== "." && d !== "/"; d = posix.dirname(d)) {
        if (!withParents.has(d)) withParents.set(d, { type: "dir", path: d, mode: 0o755 });
      }
    }
    return [...withParents.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** SHA-256 over every entry's path, type, mode, link target and content (file digests reused from `cache` when unchanged). */
  async contentHash(extra = "", cache?: DigestCache): Promise<string> {
    const h = createHash("sha256");
    h.update(`twilight-image-v1\n${extra}\n`);
    for (const e of this.list()) {
      h.update(`${e.type}\0${e.path}\0`);
      if (e.type === "symlink") h.update(`${e.target}\n`);
      else if (e.type === "dir") h.update(`${e.mode.toString(8)}\n`);
      else if (e.type === "data") h.update(`${e.mode.toString(8)}\0`).update(e.data);
      else {
        h.update(`${e.mode.toString(8)}\0${e.size}\0`);
        h.update(cache ? await cache.digest(e.source) : await fileDigest(e.source));
      }
      h.update("\n");
    }
    return h.digest("hex");
  }

  /** Total bytes of file content. */
  bytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.type === "file" ? e.size : e.type === "data" ? e.data.length : 0;
    return n;
  }

  /** A tar stream of the tree; files are streamed from disk one at a time. */
  tar(): Readable {
    const pack = tarPack();
    const entries = this.list();
    void (async () => {
      try {
        for (const e of entries) {
          const base = { name: e.path, mtime: MTIME, uid: 0, gid: 0, uname: "root", gname: "root" };
          if (e.type === "dir") await writeEntry(pack, { ...base, type: "directory", mode: e.mode });
          else if (e.type === "symlink") await writeEntry(pack, { ...base, type: "symlink", linkname: e.target, mode: 0o777 });
          else if (e.type === "data")
            await writeEntry(pack, { ...base, type: "file", mode: e.mode, size: e.data.length }, e.data);
          else {
            // Read whole, then write: the header's size is the bytes we send even if the file changed since the walk
            // (a concurrent `tsc -b` in the shared checkout); the next build sees the new digest.
            const data = await readFile(e.source);
            await writeEntry(pack, { ...base, type: "file", mode: e.mode, size: data.length }, data);
          }
        }
        pack.finalize();
      } catch (err) {
        pack.destroy(err as Error);
      }
    })();
    return pack as unknown as Readable;
  }
}

export async function fileDigest(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * File digests keyed by (path, device, inode, size, mtime), kept in a JSON file between runs, so a rebuild with no change
 * re-reads no file content. A file whose stat differs is hashed again.
 */
export class DigestCache {
  private entries: Record<string, { k: string; d: string }> = {};
  private dirty = false;

  constructor(private readonly file?: string) {}

  async load(): Promise<this> {
    if (!this.file) return this;
    try {
      this.entries = JSON.parse(await readFile(this.file, "utf8")) as typeof this.entries;
    } catch {
      this.entries = {};
    }
    return this;
  }

  async digest(path: string): Promise<string> {
    const st = await stat(path);
    const k = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
    const hit = this.entries[path];
    if (hit && hit.k === k) return hit.d;
    const d = await fileDigest(path);
    this.entries[path] = { k, d };
    this.dirty = true;
    return d;
  }

  async save(): Promise<void> {
    if (!this.file || !this.dirty) return;
    await mkdir(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(this.entries));
    await rename(tmp, this.file);
    this.dirty = false;
  }
}

function writeEntry(pack: Pack, header: Headers, data?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    if (data) pack.entry(header, data, cb);
    else pack.entry(header, cb);
  });
}

/** World-readable modes: executables 0755, everything else 0644 (the container runs as an arbitrary uid). */
export function normalMode(hostMode: number): number {
  return hostMode & 0o111 ? 0o755 : 0o644;
}

/**
 * Add a host path to the tree at the same absolute path, replicating every symlink met on the way (so `/lib64/ld-linux...`
 * and `/lib/x86_64-linux-gnu/libc.so.6` resolve in the image as they do on a merged-/usr host), and the file at its real place.
 */
export async function addHostPath(tree: Tree, path: string, depth = 0): Promise<void> {
  if (depth > 40) throw new Error(`too many symlinks resolving ${path}`);
  const parts = path.split("/").filter(Boolean);
  let cur = "/";
  for (let i = 0; i < parts.length; i++) {
    const next = join(cur, parts[i] as string);
    const st = await lstat(next);
    if (st.isSymbolicLink()) {
      const target = await readlink(next);
      tree.add({ type: "symlink", path: next, target });
      const resolved = target.startsWith("/") ? target : join(dirname(next), target);
      return addHostPath(tree, join(resolved, ...parts.slice(i + 1)), depth + 1);
    }
    if (st.isDirectory()) {
      if (i < parts.length - 1) {
        cur = next;
        continue;
      }
      tree.add({ type: "dir", path: next, mode: 0o755 });
      return;
    }
    tree.add({ type: "file", path: next, mode: normalMode(st.mode), source: next, size: st.size });
    return;
  }
}
