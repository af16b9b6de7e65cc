/**
 * The provisioning credential: billing signs `PUT /v1/profiles/{name}` with an HMAC key (core/provision-auth.ts) instead
 * of holding the admin token, so a leaked billing secret can create profiles and nothing else. Keys live in
 * `ops/provision-keys.json` (0600, root), made with `hermes-admin provision-key create`; a nonce is accepted once
 * within the timestamp window (10 min), so a captured request cannot be replayed.
 */
import { randomBytes } from "node:crypto";
import { stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { basename, dirname } from "node:path";
import { Conflict, InputInvalid, ProvisionAuthRejected, verifyProvisionRequest } from "@twilight/core";
import { readNoFollow, writeNoFollow } from "../lib/safe-fs.js";

interface KeysFile {
  keys: Record<string, { secret: string; created_at: string }>;
}

const KEY_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const WINDOW_S = 300;

export class ProvisionKeys {
  private cache: { mtimeMs: number; keys: Map<string, string> } | undefined;
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly file: string,
    private readonly now: () => number = Date.now,
  ) {}

  private async load(): Promise<Map<string, string>> {
    const st = await stat(this.file).catch(() => undefined);
    if (!st) return new Map();
    if (this.cache?.mtimeMs === st.mtimeMs) return this.cache.keys;
    const parsed = JSON.parse(await readNoFollow(this.file, { owners: [0] })) as KeysFile;
    const keys = new Map(Object.entries(parsed.keys ?? {}).map(([id, v]) => [id, v.secret] as const));
    this.cache = { mtimeMs: st.mtimeMs, keys };
    return keys;
  }

  /** Create a key; the secret is returned once (the file keeps it for verification, root-only). */
  async create(keyId: string): Promise<{ key_id: string; secret: string }> {
    if (!KEY_ID.test(keyId)) throw new InputInvalid("key id must be 1-64 characters of [A-Za-z0-9_.-]");
    const keys = await this.load();
    if (keys.has(keyId)) throw new Conflict(`provisioning key ${keyId} exists`, { hint: "revoke it first or choose another id" });
    const file: KeysFile = { keys: {} };
    for (const [id, secret] of keys) file.keys[id] = { secret, created_at: "" };
    const secret = `pk_${randomBytes(32).toString("base64url")}`;
    file.keys[keyId] = { secret, created_at: new Date(this.now()).toISOString() };
    await writeNoFollow(dirname(this.file), basename(this.file), `${JSON.stringify(file, null, 2)}\n`, {
      uid: 0,
      gid: 0,
      mode: 0o600,
    });
    this.cache = undefined;
    return { key_id: keyId, secret };
  }

  /** Authenticate a signed request (raw body as received); returns `billing:<key id>`. A reused nonce is refused. */
  async verify(req: IncomingMessage, body: Buffer): Promise<string> {
    const keys = await this.load();
    const nowS = this.now() / 1000;
    const { keyId, nonce } = verifyProvisionRequest({
      headers: req.headers,
      method: req.method ?? "",
      path: req.url ?? "",
      body,
      lookupSecret: (id) => keys.get(id),
      now: nowS,
      maxSkewS: WINDOW_S,
    });
    for (const [k, exp] of this.seen) if (exp < nowS) this.seen.delete(k);
    const k = `${keyId}\0${nonce}`;
    if (this.seen.has(k)) throw new ProvisionAuthRejected("replayed", "this signed request was already used (nonce seen)");
    this.seen.set(k, nowS + 2 * WINDOW_S);
    return `billing:${keyId}`;
  }
}
