/**
 * The data directory's secrets and the bearer tokens (contract 4):
 * - tokens.json, written by the fleet atomically, reloaded here whenever its mtime (or inode/size) changes;
 * - the cite key set (keys.ts): cite-keyset.json (0600), cite-signing-key.pem (0600), cite-keys.json (public);
 * - admin-token (0600, created on first start) for /admin routes and `mcp check`.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Logger, safeEqual, sha256Hex } from "@twilight/core";
import { z } from "zod";
import { ChangeFlag } from "./change-flag.js";

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

/** What /health says about tokens.json. */
export interface TokenStatus {
  ok: boolean;
  file: string;
  profiles: number;
  tokens: number;
  /** Why the file on disk is not in use (the last good set is served instead). */
  error?: string;
  /** The last good set came from tokens.last-good.json (tokens.json was bad at start). */
  from_last_good?: boolean;
}

/** Hashes that appear more than once as keys: JSON.parse would silently keep the last one. */
function duplicateHashes(text: string): string[] {
  const seen = new Set<string>();
  const dup = new Set<string>();
  for (const m of text.matchAll(/"([0-9a-f]{64})"\s*:/g)) {
    const h = m[1] as string;
    if (seen.has(h)) dup.add(h);
    seen.add(h);
  }
  return [...dup];
}

/** Parse tokens.json: a hash (one token) belongs to one profile only, or the whole file is refused. */
export function parseTokens(text: string): Map<string, string> {
  const parsed = TokensFile.parse(JSON.parse(text));
  const dup = duplicateHashes(text);
  if (dup.length) throw new Error(`${dup.length} token hash(es) are listed more than once: a token belongs to one profile only`);
  return new Map(Object.entries(parsed.tokens).map(([h, v]) => [h, v.profile]));
}

/**
 * The bearer tokens. A tokens.json that does not parse (or gives one token to two profiles) is never read as empty:
 * the last good set keeps serving, the error is logged naming the file and shown in /health. The last good set is
 * also kept on disk (tokens.last-good.json, 0600) so a restart with a bad file still serves it.
 */
export class TokenStore {
  private byHash = new Map<string, string>();
  private stamp = "";
  private digest = "";
  private error: string | undefined;
  private fromLastGood = false;

  private readonly change: ChangeFlag;

  constructor(
    private readonly path: string,
    private readonly log?: Logger,
  ) {
    this.change = new ChangeFlag(path);
    this.reloadIfChanged();
    if (this.error) this.loadLastGood();
  }

  close(): void {
    this.change.close();
  }

  private get lastGoodPath(): string {
    return this.path.replace(/\.json$/, "") + ".last-good.json";
  }

  private loadLastGood(): void {
    try {
      this.byHash = parseTokens(readFileSync(this.lastGoodPath, "utf8"));
      this.fromLastGood = true;
      this.log?.warn({ file: this.lastGoodPath, profiles: this.byHash.size }, "serving the last good tokens");
    } catch {
      // no last good copy: nobody is authorised until tokens.json is fixed (and /health says why)
    }
  }

  status(): TokenStatus {
    this.reloadIfChanged();
    return {
      ok: !this.error,
      file: this.path,
      profiles: new Set(this.byHash.values()).size,
      tokens: this.byHash.size,
      ...(this.error ? { error: this.error } : {}),
      ...(this.fromLastGood ? { from_last_good: true } : {}),
    };
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
    // Two rewrites within the file system's timestamp granularity can leave the same stamp: re-read a fresh file (and
    // keep looking while it is fresh: a second rewrite's event may have been taken by this read)
    const fresh = !!st && Date.now() - st.mtimeMs <= 2_000;
    if (fresh) this.change.touch();
    if (stamp === this.stamp && !fresh) return;
    this.stamp = stamp;
    if (!st) {
      this.byHash = new Map();
      this.digest = "";
      this.error = undefined;
      this.fromLastGood = false;
      return;
    }
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (e) {
      this.error = `cannot read ${this.path}: ${(e as Error).message}`;
      this.log?.error({ file: this.path, err: this.error }, "tokens file unreadable; keeping the tokens loaded before");
      return;
    }
    const digest = sha256Hex(text);
    if (digest === this.digest) return;
    this.digest = digest;
    try {
      this.byHash = parseTokens(text);
      this.error = undefined;
      this.fromLastGood = false;
      this.log?.info({ file: this.path, profiles: this.byHash.size }, "loaded tokens.json");
      try {
        writeFileAtomic(this.lastGoodPath, text, 0o600);
      } catch (e) {
        this.log?.warn({ file: this.lastGoodPath, err: (e as Error).message }, "could not keep a last good copy of the tokens");
      }
    } catch (e) {
      const msg = e instanceof SyntaxError ? `not JSON (${e.message})` : (e as Error).message;
      this.error = `${this.path} is invalid: ${msg}`.slice(0, 500);
      this.log?.error({ file: this.path, err: this.error }, "tokens file is invalid; keeping the tokens loaded before");
    }
  }

  /** The profile a bearer token belongs to, or undefined. The file is looked at only when it may have changed. */
  profileOf(token: string): string | undefined {
    if (this.change.maybeChanged()) this.reloadIfChanged();
    return this.byHash.get(sha256Hex(token));
  }

  get size(): number {
    return this.byHash.size;
  }
}

export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
