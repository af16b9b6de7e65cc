/**
 * Registers each profile's virtual model key with the model gateway: `<gateway data dir>/keys.json` maps the SHA-256 of
 * the key (the profile's generated SILICONFLOW_API_KEY) to its profile and plan, never the key itself. Written
 * atomically (the previous version kept as keys.json.prev); the gateway re-reads it when its mtime changes, so a
 * revoked key is refused within a second. A file that does not parse is refused, never rewritten as empty.
 */
import { chown, copyFile, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, type Plan, Precondition, sha256Hex } from "@twilight/core";

interface KeysFile {
  version: 1;
  keys: Record<string, { profile: string; plan: Plan; issued_at: string }>;
}

export class GatewayKeyFile {
  private queue: Promise<unknown> = Promise.resolve();

  /** `owner`: the gateway's uid/gid (it runs as its own user and must read the file). */
  constructor(
    private readonly dataDir: string,
    private readonly owner?: { uid: number; gid: number },
  ) {}

  get path(): string {
    return join(this.dataDir, "keys.json");
  }

  private async read(): Promise<KeysFile> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return { version: 1, keys: Object.create(null) };
      throw e;
    }
    let f: Partial<KeysFile>;
    try {
      f = JSON.parse(text) as Partial<KeysFile>;
    } catch (e) {
      throw this.corrupt(`it is not JSON (${(e as Error).message})`);
    }
    if (f?.version !== 1 || typeof f.keys !== "object" || f.keys === null || Array.isArray(f.keys))
      throw this.corrupt("it is not a version 1 keys file");
    const keys: KeysFile["keys"] = Object.create(null);
    for (const [h, v] of Object.entries(f.keys)) {
      if (!/^[0-9a-f]{64}$/.test(h) || typeof v?.profile !== "string") throw this.corrupt(`entry ${h.slice(0, 12)} is malformed`);
      keys[h] = v;
    }
    return { version: 1, keys };
  }

  private corrupt(why: string): Precondition {
    return new Precondition(`the model gateway's key file ${this.path} cannot be used: ${why}; refusing to rewrite it`, {
      hint: `restore it from ${this.path}.prev or fix it by hand`,
    });
  }

  private async write(f: KeysFile): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    if (this.owner) await chown(this.dataDir, this.owner.uid, this.owner.gid);
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o600, flag: "w" });
    if (this.owner) await chown(tmp, this.owner.uid, this.owner.gid);
    await copyFile(this.path, `${this.path}.prev`).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOENT") throw e;
    });
    await rename(tmp, this.path);
  }

  private edit(fn: (f: KeysFile) => void): Promise<void> {
    const next = this.queue.then(async () => {
      const f = await this.read();
      fn(f);
      await this.write(f);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Register `key` for `profile` on `plan`, replacing any earlier key of that profile (rotation). */
  set(profile: string, plan: Plan, key: string): Promise<void> {
    if (!key) return Promise.resolve();
    return this.edit((f) => {
      const h = sha256Hex(key);
      const owner = f.keys[h]?.profile;
      if (owner !== undefined && owner !== profile)
        throw new Conflict("this model key already belongs to another profile", { hint: "model keys are generated per profile" });
      for (const [k, v] of Object.entries(f.keys)) if (v.profile === profile) delete f.keys[k];
      f.keys[h] = { profile, plan, issued_at: new Date().toISOString() };
    });
  }

  revoke(profile: string): Promise<void> {
    return this.edit((f) => {
      for (const [h, v] of Object.entries(f.keys)) if (v.profile === profile) delete f.keys[h];
    });
  }

  async profiles(): Promise<string[]> {
    return Object.values((await this.read()).keys).map((v) => v.profile);
  }
}
