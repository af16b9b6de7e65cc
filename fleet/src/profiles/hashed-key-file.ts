/**
 * A file that maps the SHA-256 of a per-profile secret to its profile, read by a platform service that runs as its own
 * user (the data service's tokens.json, the model gateway's keys.json). One mechanism for both: a file that does not
 * parse is refused (never read as empty, never rewritten), writes are atomic with the previous version kept as
 * `<file>.prev`, read-modify-write cycles are serialised in this process, and a secret belongs to one profile only.
 */
import { chown, copyFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, Precondition, sha256Hex } from "@twilight/core";

export interface HashedKeyFileOptions {
  dataDir: string;
  fileName: string;
  /** The object of entries in the file: `{version: 1, [field]: {sha256: entry}}`. */
  field: string;
  /** Names the file in errors ("the data-service token file"). */
  label: string;
  /** What to do about a file that does not parse. */
  corruptHint: (path: string) => string;
  /** The Conflict when a secret is already another profile's. */
  taken: { message: string; hint: string };
  /** The service's uid/gid (it must read the file); the data dir is given to it too when `ownDir`. */
  owner?: { uid: number; gid: number } | undefined;
  ownDir?: boolean;
  /** Refuse a file that names one profile under two secrets (`what` names them in the error: "tokens"). */
  onePerProfile?: { what: string };
}

type Entry = { profile: string } & Record<string, unknown>;

export class HashedKeyFile {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: HashedKeyFileOptions) {}

  get path(): string {
    return join(this.o.dataDir, this.o.fileName);
  }

  /** The entries as they are; an absent file is empty, one that does not parse is refused. */
  private async read(): Promise<Record<string, Entry>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return Object.create(null);
      throw e;
    }
    let parsed: Record<string, unknown> | undefined;
    try {
      parsed = JSON.parse(text) as Record<string, unknown> | undefined;
    } catch (e) {
      throw this.corrupt(`it is not JSON (${(e as Error).message})`);
    }
    const map = parsed?.[this.o.field];
    if (parsed?.version !== 1 || typeof map !== "object" || map === null || Array.isArray(map))
      throw this.corrupt(`it is not a version 1 ${this.o.field} file`);
    const out: Record<string, Entry> = Object.create(null);
    const seen = new Set<string>();
    for (const [h, v] of Object.entries(map as Record<string, Partial<Entry> | undefined>)) {
      if (!/^[0-9a-f]{64}$/.test(h) || typeof v?.profile !== "string") throw this.corrupt(`entry ${h.slice(0, 12)} is malformed`);
      if (this.o.onePerProfile && seen.has(v.profile))
        throw this.corrupt(`profile ${v.profile} has two ${this.o.onePerProfile.what}`);
      seen.add(v.profile);
      out[h] = v as Entry;
    }
    return out;
  }

  private corrupt(why: string): Precondition {
    return new Precondition(`${this.o.label} ${this.path} cannot be used: ${why}; refusing to rewrite it`, {
      hint: this.o.corruptHint(this.path),
    });
  }

  /** Atomic replace; the previous version is kept as `<file>.prev`. */
  private async write(entries: Record<string, Entry>): Promise<void> {
    await mkdir(this.o.dataDir, { recursive: true, mode: 0o700 });
    if (this.o.owner && this.o.ownDir) await chown(this.o.dataDir, this.o.owner.uid, this.o.owner.gid);
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ version: 1, [this.o.field]: entries }, null, 2)}\n`, { mode: 0o600, flag: "w" });
    if (this.o.owner) await chown(tmp, this.o.owner.uid, this.o.owner.gid);
    await copyFile(this.path, `${this.path}.prev`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    await rename(tmp, this.path);
  }

  /** Serialise read-modify-write cycles within this process. */
  private edit(fn: (entries: Record<string, Entry>) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const entries = await this.read();
      fn(entries);
      await this.write(entries);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Register `secret` for `profile` (with `extra` fields), replacing any earlier one of that profile (rotation). */
  set(profile: string, secret: string, extra: Record<string, unknown> = {}): Promise<void> {
    return this.edit((entries) => {
      const h = sha256Hex(secret);
      const owner = entries[h]?.profile;
      if (owner !== undefined && owner !== profile) throw new Conflict(this.o.taken.message, { hint: this.o.taken.hint });
      for (const [k, v] of Object.entries(entries)) if (v.profile === profile) delete entries[k];
      entries[h] = { profile, ...extra, issued_at: new Date().toISOString() };
    });
  }

  revoke(profile: string): Promise<void> {
    return this.edit((entries) => {
      for (const [h, v] of Object.entries(entries)) if (v.profile === profile) delete entries[h];
    });
  }

  async profiles(): Promise<string[]> {
    return Object.values(await this.read()).map((v) => v.profile);
  }
}
