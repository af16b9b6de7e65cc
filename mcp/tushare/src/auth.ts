/**
 * The data directory's secrets and the bearer tokens (contract 4):
 * - tokens.json, written by the fleet atomically, reloaded here whenever its mtime (or inode/size) changes;
 * - cite-signing-key.pem (0600, created on first start) and cite-keys.json (the public keys);
 * - admin-token (0600, created on first start) for /admin routes and `mcp check`.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type CiteSigningKey,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  type Logger,
  type PublicCiteKey,
  publicCiteKey,
  safeEqual,
  sha256Hex,
} from "@twilight/core";
import { z } from "zod";

export const DATA_FILES = {
  tokens: "tokens.json",
  signingKey: "cite-signing-key.pem",
  citeKeys: "cite-keys.json",
  adminToken: "admin-token",
  warehouse: "warehouse.duckdb",
} as const;

/** The identity the admin token acts as on /mcp and /warehouse (not a valid profile name, so it cannot collide). */
export const ADMIN_PROFILE = "_admin";

const TokensFile = z.object({
  version: z.literal(1),
  tokens: z.record(
    z.string().regex(/^[0-9a-f]{64}$/, "keys are sha256 hex of the token"),
    z.object({ profile: z.string().min(1), issued_at: z.string().optional() }).passthrough(),
  ),
});

/** Write a file atomically (tmp + rename) with the given mode. */
export function writeFileAtomic(path: string, text: string, mode = 0o600): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  writeFileSync(tmp, text, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export class TokenStore {
  private byHash = new Map<string, string>();
  private stamp = "";
  private digest = "";

  constructor(
    private readonly path: string,
    private readonly log?: Logger,
  ) {
    this.reloadIfChanged();
  }

  /** Re-read tokens.json when it changed. A missing file means no tokens; a bad file keeps the previous tokens. */
  reloadIfChanged(): void {
    let st: ReturnType<typeof statSync> | undefined;
    try {
      st = statSync(this.path);
    } catch {
      st = undefined;
    }
    const stamp = st ? `${st.mtimeMs}:${st.ino}:${st.size}` : "missing";
    // Two rewrites within the file system's timestamp granularity can leave the same stamp: re-read a fresh file.
    if (stamp === this.stamp && (!st || Date.now() - st.mtimeMs > 2_000)) return;
    this.stamp = stamp;
    if (!st) {
      this.byHash = new Map();
      this.digest = "";
      return;
    }
    try {
      const text = readFileSync(this.path, "utf8");
      const digest = sha256Hex(text);
      if (digest === this.digest) return;
      const parsed = TokensFile.parse(JSON.parse(text));
      this.digest = digest;
      this.byHash = new Map(Object.entries(parsed.tokens).map(([h, v]) => [h, v.profile]));
      this.log?.info({ profiles: this.byHash.size }, "loaded tokens.json");
    } catch (e) {
      this.log?.error({ err: (e as Error).message }, "tokens.json is invalid; keeping the tokens loaded before");
    }
  }

  /** The profile a bearer token belongs to, or undefined. */
  profileOf(token: string): string | undefined {
    this.reloadIfChanged();
    return this.byHash.get(sha256Hex(token));
  }

  get size(): number {
    return this.byHash.size;
  }
}

export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/** Load the signing key, creating it (0600) on first start; also (re)write cite-keys.json. */
export function ensureSigningKey(dir: string): { key: CiteSigningKey; publicKeys: PublicCiteKey[] } {
  const path = join(dir, DATA_FILES.signingKey);
  let key: CiteSigningKey;
  if (existsSync(path)) key = importSigningKey(readFileSync(path, "utf8"));
  else {
    key = generateSigningKey();
    writeFileAtomic(path, exportSigningKey(key), 0o600);
  }
  const publicKeys = [publicCiteKey(key)];
  writeFileAtomic(join(dir, DATA_FILES.citeKeys), `${JSON.stringify({ keys: publicKeys }, null, 2)}\n`, 0o644);
  return { key, publicKeys };
}

/** Load the admin token, creating it (0600) on first start. */
export function ensureAdminToken(dir: string): string {
  const path = join(dir, DATA_FILES.adminToken);
  if (existsSync(path)) {
    const t = readFileSync(path, "utf8").trim();
    if (t.length >= 16) return t;
  }
  const token = randomBytes(32).toString("base64url");
  writeFileAtomic(path, `${token}\n`, 0o600);
  return token;
}

export function readAdminToken(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, DATA_FILES.adminToken), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Who is calling: a profile (tokens.json) or the admin; undefined when the token is unknown. */
export function identify(token: string | undefined, tokens: TokenStore, adminToken: string): string | undefined {
  if (!token) return undefined;
  if (safeEqual(token, adminToken)) return ADMIN_PROFILE;
  return tokens.profileOf(token);
}
