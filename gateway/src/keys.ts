/**
 * Virtual keys. The fleet writes `<data dir>/keys.json`: `{version: 1, keys: {<sha256 of key>: {profile, plan, issued_at}}}`
 * (hashes only: no plaintext key is ever on the gateway's disk or in its logs). The gateway looks a bearer key up by its
 * SHA-256 and re-reads the file when its mtime changes (checked at most every `recheckMs`); a file that does not parse
 * is refused and the last good set kept, so a bad write never opens or closes the gate for everyone.
 */
import { readFileSync, statSync } from "node:fs";
import { isPlan, type Logger, type Plan, sha256Hex } from "@twilight/core";

export interface KeyEntry {
  profile: string;
  plan: Plan;
}

export function parseKeysFile(text: string): Map<string, KeyEntry> {
  const f = JSON.parse(text) as { version?: unknown; keys?: unknown };
  if (f?.version !== 1 || typeof f.keys !== "object" || f.keys === null || Array.isArray(f.keys))
    throw new Error("not a version 1 keys file");
  const out = new Map<string, KeyEntry>();
  for (const [h, v] of Object.entries(f.keys as Record<string, { profile?: unknown; plan?: unknown }>)) {
    if (!/^[0-9a-f]{64}$/.test(h) || typeof v?.profile !== "string") throw new Error(`entry ${h.slice(0, 12)} is malformed`);
    out.set(h, { profile: v.profile, plan: isPlan(v.plan) ? v.plan : "basic" });
  }
  return out;
}

export class KeyStore {
  private keys = new Map<string, KeyEntry>();
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(
    private readonly path: string,
    private readonly log?: Logger,
    private readonly recheckMs = 500,
  ) {
    this.reload(true);
  }

  get size(): number {
    return this.keys.size;
  }

  /** The profile a bearer key belongs to, or undefined. */
  lookup(key: string): KeyEntry | undefined {
    const now = Date.now();
    if (now - this.checkedAt >= this.recheckMs) {
      this.checkedAt = now;
      this.reload(false);
    }
    return this.keys.get(sha256Hex(key));
  }

  reload(force: boolean): void {
    let mtime: number;
    try {
      mtime = statSync(this.path).mtimeMs;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      if (this.mtimeMs !== -1 || force) this.log?.warn({ file: this.path }, "no keys file yet: every key is refused");
      this.keys = new Map();
      this.mtimeMs = -1;
      return;
    }
    if (!force && mtime === this.mtimeMs) return;
    try {
      this.keys = parseKeysFile(readFileSync(this.path, "utf8"));
      this.mtimeMs = mtime;
      this.log?.info({ keys: this.keys.size }, "virtual keys loaded");
    } catch (e) {
      this.mtimeMs = mtime;
      this.log?.error({ file: this.path, why: (e as Error).message }, "keys file refused; keeping the last good set");
    }
  }
}
