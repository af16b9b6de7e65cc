/**
 * The cite key set: every signing key the service has, in `cite-keyset.json` (0600) in its data directory.
 * - One key signs: the newest key whose `not_before` has passed and that is not retired (`not_after` unset or ahead).
 * - `rotateKey` (CLI `rotate-key`) adds a new key and gives the signing key a `not_after` = activation + grace; keys
 *   already past their `not_after` are dropped. `--activate-in-seconds` publishes the new key before it signs, so the
 *   fleet can pin it into every profile first.
 * - Published (`/.well-known/cite-keys`, `cite-keys.json` 0644): every key not yet past its `not_after`, with
 *   `created_at`, `not_before` and `not_after` - the file the fleet copies into each profile's pinned keys file.
 * - The running service re-reads the key set when the file changes (stat on use) or on SIGHUP: no restart.
 * A data dir from before key sets (only `cite-signing-key.pem`) is adopted as a set of one key. `cite-signing-key.pem`
 * keeps holding the signing key for tools that read it.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type CiteSigningKey,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  type Logger,
  type PublicCiteKey,
  publicCiteKey,
} from "@twilight/core";
import { z } from "zod";
import { DATA_FILES, writeFileAtomic } from "./auth.js";
import { ChangeFlag } from "./change-flag.js";

export const KEYSET_FILE = "cite-keyset.json";

const StoredKey = z.object({
  key_id: z.string().min(1),
  private_pem: z.string().min(1),
  created_at: z.string().datetime({ offset: true }),
  not_before: z.string().datetime({ offset: true }).nullable().default(null),
  not_after: z.string().datetime({ offset: true }).nullable().default(null),
});
const KeySetFile = z.object({ version: z.literal(1), keys: z.array(StoredKey).min(1) });
type StoredKey = z.infer<typeof StoredKey>;

interface LoadedKey {
  stored: StoredKey;
  key: CiteSigningKey;
}

const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

function loadKeys(text: string): LoadedKey[] {
  const file = KeySetFile.parse(JSON.parse(text));
  return file.keys.map((stored) => {
    const key = importSigningKey(stored.private_pem);
    if (key.keyId !== stored.key_id) throw new Error(`key ${stored.key_id} in ${KEYSET_FILE} does not match its private key`);
    return { stored, key };
  });
}

function stored(key: CiteSigningKey, now: number, notBefore: number | null = null): StoredKey {
  return {
    key_id: key.keyId,
    private_pem: exportSigningKey(key),
    created_at: new Date(now).toISOString(),
    not_before: notBefore === null ? null : new Date(notBefore).toISOString(),
    not_after: null,
  };
}

/** The key that signs at `now`: the newest active, unretired key (ties: the later in the file). */
function signingKeyAt(keys: LoadedKey[], now: number): LoadedKey | undefined {
  let best: LoadedKey | undefined;
  for (const k of keys) {
    const nb = ms(k.stored.not_before);
    const na = ms(k.stored.not_after);
    if ((nb !== null && nb > now) || (na !== null && na <= now)) continue;
    if (!best || Date.parse(k.stored.created_at) >= Date.parse(best.stored.created_at)) best = k;
  }
  return best;
}

function publishedAt(keys: LoadedKey[], now: number): PublicCiteKey[] {
  return keys
    .filter((k) => {
      const na = ms(k.stored.not_after);
      return na === null || na > now;
    })
    .map((k) => ({
      ...publicCiteKey(k.key),
      created_at: k.stored.created_at,
      ...(k.stored.not_before ? { not_before: k.stored.not_before } : {}),
      not_after: k.stored.not_after,
    }));
}

function writeKeySet(dir: string, keys: LoadedKey[], now: number): void {
  const body = { version: 1, keys: keys.map((k) => k.stored) };
  writeFileAtomic(join(dir, KEYSET_FILE), `${JSON.stringify(body, null, 2)}\n`, 0o600);
  writePublic(dir, keys, now);
}

function writePublic(dir: string, keys: LoadedKey[], now: number): void {
  const signing = signingKeyAt(keys, now);
  if (signing) writeFileAtomic(join(dir, DATA_FILES.signingKey), exportSigningKey(signing.key), 0o600);
  const published = `${JSON.stringify({ keys: publishedAt(keys, now) }, null, 2)}\n`;
  writeFileAtomic(join(dir, DATA_FILES.citeKeys), published, 0o644);
}

/** Read the key set, creating it on first start (adopting an existing `cite-signing-key.pem`). */
export function ensureKeySet(dir: string, now: number): LoadedKey[] {
  const path = join(dir, KEYSET_FILE);
  let text: string | undefined;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    text = undefined;
  }
  if (text !== undefined) return loadKeys(text);
  let first: CiteSigningKey;
  try {
    first = importSigningKey(readFileSync(join(dir, DATA_FILES.signingKey), "utf8"));
  } catch {
    first = generateSigningKey();
  }
  const keys = [{ stored: stored(first, now), key: first }];
  writeKeySet(dir, keys, now);
  return keys;
}

export interface RotateOptions {
  /** How long the retiring key stays trusted after the new one starts signing. */
  graceSeconds: number;
  /** Publish the new key now, sign with it only after this many seconds (time for the fleet to pin it). */
  activateInSeconds?: number;
  now?: number;
}

export interface RotateResult {
  new_key_id: string;
  retiring_key_id: string | null;
  signs_from: string;
  retiring_not_after: string | null;
  keys: PublicCiteKey[];
}

/** Add a new signing key and retire the current one after the grace period. Safe while the service runs. */
export function rotateKey(dir: string, o: RotateOptions): RotateResult {
  const now = o.now ?? Date.now();
  const activate = now + (o.activateInSeconds ?? 0) * 1000;
  const all = ensureKeySet(dir, now);
  const current = signingKeyAt(all, now);
  const notAfter = activate + o.graceSeconds * 1000;
  const keys = all.filter((k) => {
    const na = ms(k.stored.not_after);
    return na === null || na > now;
  });
  for (const k of keys) {
    const na = ms(k.stored.not_after);
    if (na === null || na > notAfter) k.stored.not_after = new Date(notAfter).toISOString();
  }
  const fresh = generateSigningKey();
  keys.push({ stored: stored(fresh, now, activate > now ? activate : null), key: fresh });
  writeKeySet(dir, keys, now);
  return {
    new_key_id: fresh.keyId,
    retiring_key_id: current?.key.keyId ?? null,
    signs_from: new Date(activate).toISOString(),
    retiring_not_after: current ? new Date(notAfter).toISOString() : null,
    keys: publishedAt(keys, now),
  };
}

/** The running service's view of the key set: re-read when the file changes, or on demand (SIGHUP). */
export class KeyRing {
  private keys: LoadedKey[];
  private stamp = "";
  private lastPublished = "";
  private publishedCache: PublicCiteKey[] = [];

  private readonly change: ChangeFlag;

  constructor(
    private readonly dir: string,
    private readonly now: () => number,
    private readonly log?: Logger,
  ) {
    this.change = new ChangeFlag(join(dir, KEYSET_FILE));
    this.keys = ensureKeySet(dir, now());
    this.stamp = this.statStamp();
    this.republish();
  }

  close(): void {
    this.change.close();
  }

  private statStamp(): string {
    try {
      const st = statSync(join(this.dir, KEYSET_FILE));
      return `${st.mtimeMs}:${st.ino}:${st.size}`;
    } catch {
      return "missing";
    }
  }

  /** Re-read the key set if the file changed (or always, with `force`). A bad file keeps the keys loaded before. */
  reload(force = false): void {
    if (!force && !this.change.maybeChanged()) return;
    const stamp = this.statStamp();
    if (!force && stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.keys = loadKeys(readFileSync(join(this.dir, KEYSET_FILE), "utf8"));
      this.log?.info({ keys: this.keys.map((k) => k.stored.key_id) }, "cite key set loaded");
      this.republish();
    } catch (e) {
      this.log?.error(
        { file: KEYSET_FILE, err: (e as Error).message },
        "cite key set is invalid; keeping the keys loaded before",
      );
    }
  }

  /**
   * Keep cite-keys.json in step with what is published now (keys expire by time, not only by file changes). Cheap on the
   * hot path: the stamp is built from stored fields; keys are exported only when it changes.
   */
  private republish(): void {
    const now = this.now();
    const live = this.keys
      .filter((k) => {
        const na = ms(k.stored.not_after);
        return na === null || na > now;
      })
      .map((k) => `${k.stored.key_id}/${k.stored.not_after}`);
    const stamp = `${live.join(",")}|${signingKeyAt(this.keys, now)?.stored.key_id ?? ""}`;
    if (stamp === this.lastPublished) return;
    this.lastPublished = stamp;
    this.publishedCache = publishedAt(this.keys, now);
    try {
      writePublic(this.dir, this.keys, now);
    } catch (e) {
      this.log?.error({ err: (e as Error).message }, "could not write cite-keys.json");
    }
  }

  /** The key that signs now. Throws when every key is retired or not yet active (the operator must rotate). */
  signingKey(): CiteSigningKey {
    this.reload();
    const k = signingKeyAt(this.keys, this.now());
    if (!k) throw new Error("no cite key is active: every key is retired or not yet valid; run rotate-key");
    this.republish();
    return k.key;
  }

  published(): PublicCiteKey[] {
    this.reload();
    this.republish();
    return this.publishedCache;
  }
}
