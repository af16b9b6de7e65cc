/**
 * Cite envelopes: every datum the data service returns is `{ data, cite }`. The cite says where the data came from and
 * for whom, binds the data by the SHA-256 of its RFC 8785 canonical form, and is signed with the data service's Ed25519
 * key. A profile verifies every envelope before it uses the data (see verifyCite); each failure has a distinct reason.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { z } from "zod";
import { canonicalize } from "./canonical.js";
import { DomainError } from "./errors.js";
import { formatIssues } from "./validation.js";

export const CITE_VERSION = 1;

export const CiteSchema = z
  .object({
    v: z.literal(CITE_VERSION),
    source: z.string().min(1),
    api: z.string().min(1),
    params: z.record(z.unknown()),
    as_of: z.string().regex(/^\d{8}$/, "as_of is YYYYMMDD"),
    retrieved_at: z.string().datetime({ offset: true }),
    profile: z.string().min(1),
    request_id: z.string().min(1),
    data_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    key_id: z.string().min(1),
    sig: z.string().min(1),
  })
  .strict();
export type Cite = z.infer<typeof CiteSchema>;
export type UnsignedCite = Omit<Cite, "v" | "data_sha256" | "key_id" | "sig">;

export interface CiteEnvelope<T = unknown> {
  data: T;
  cite: Cite;
}

/** Why a cite was refused. A stable set: metrics label `reason` uses these values. */
export const CITE_FAILURE_REASONS = [
  "malformed",
  "unknown_key",
  "bad_signature",
  "data_mismatch",
  "wrong_profile",
  "stale",
  "wrong_call",
  "expired_key",
] as const;
export type CiteFailureReason = (typeof CITE_FAILURE_REASONS)[number];

export class CiteInvalid extends DomainError {
  readonly reason: CiteFailureReason;
  constructor(reason: CiteFailureReason, message: string) {
    super("CITE_INVALID", `cite refused (${reason}): ${message}`, {
      details: { reason },
      hint: "the datum was not used; fetch it again from the data service with this profile's own token",
    });
    this.reason = reason;
  }
}

export function sha256Hex(s: string | Buffer): string {
  return createHash("sha256").update(s).digest("hex");
}

export function dataDigest(data: unknown): string {
  return sha256Hex(canonicalize(data));
}

/** A signing key of the data service. `keyId` is derived from the public key, so it cannot drift from it. */
export interface CiteSigningKey {
  keyId: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** The public part, as published by the data service (`GET /.well-known/cite-keys`) and pinned in profile config. */
export interface PublicCiteKey {
  key_id: string;
  alg: "Ed25519";
  /** base64url of the raw 32-byte Ed25519 public key (JWK `x`). */
  x: string;
  /** When the data service made the key (informational). */
  created_at?: string;
  /** The data service signs with the key only from this ISO time on (published earlier so profiles can pin it). */
  not_before?: string;
  /** After this ISO time the key is retired: cites signed with it are refused (`expired_key`). */
  not_after?: string | null;
}

export function keyIdOf(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: "jwk" });
  return `ed25519:${sha256Hex(String(jwk.x)).slice(0, 16)}`;
}

export function generateSigningKey(): CiteSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

/** PEM (PKCS#8) of the private key, for storage in the data service's data directory (0600). */
export function exportSigningKey(key: CiteSigningKey): string {
  return key.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

export function importSigningKey(pem: string): CiteSigningKey {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), privateKey, publicKey };
}

export function publicCiteKey(key: CiteSigningKey | KeyObject): PublicCiteKey {
  const pub = "publicKey" in key ? key.publicKey : key;
  const jwk = pub.export({ format: "jwk" });
  return { key_id: keyIdOf(pub), alg: "Ed25519", x: String(jwk.x) };
}

export function importPublicCiteKey(k: PublicCiteKey): KeyObject {
  const pub = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: k.x }, format: "jwk" });
  if (keyIdOf(pub) !== k.key_id) throw new CiteInvalid("unknown_key", `published key id ${k.key_id} does not match its key`);
  return pub;
}

function signingInput(cite: Omit<Cite, "sig">): Buffer {
  return Buffer.from(canonicalize(cite), "utf8");
}

/** Wrap `data` in a signed envelope. */
export function signEnvelope<T>(data: T, meta: UnsignedCite, key: CiteSigningKey): CiteEnvelope<T> {
  const body: Omit<Cite, "sig"> = {
    v: CITE_VERSION,
    source: meta.source,
    api: meta.api,
    params: meta.params,
    as_of: meta.as_of,
    retrieved_at: meta.retrieved_at,
    profile: meta.profile,
    request_id: meta.request_id,
    data_sha256: dataDigest(data),
    key_id: key.keyId,
  };
  const sig = sign(null, signingInput(body), key.privateKey).toString("base64");
  return { data, cite: { ...body, sig } };
}

export interface VerifyOptions {
  /** Trusted keys by key id. */
  keys: ReadonlyMap<string, KeyObject>;
  /** Revocation: a key listed here is refused (`expired_key`) once `now` is past its time (epoch ms). */
  notAfter?: ReadonlyMap<string, number>;
  /** The call the envelope must answer (see market.ts citeBinding): a cite for any other api/params is `wrong_call`. */
  expect?: { api: string; params: Record<string, unknown> };
  /** The profile that is about to use the data: a cite issued for any other profile is refused. */
  profile: string;
  /** Oldest acceptable `retrieved_at`, as an age. Default 10 minutes. */
  maxAgeMs?: number;
  now?: () => number;
}

export type VerifyResult<T> = { ok: true; envelope: CiteEnvelope<T> } | { ok: false; reason: CiteFailureReason; message: string };

/**
 * Check an envelope. Order matters: shape, key, key expiry, signature, data hash, profile, call, age - the first failure
 * is the reason.
 */
export function verifyCite<T = unknown>(envelope: unknown, opts: VerifyOptions): VerifyResult<T> {
  const fail = (reason: CiteFailureReason, message: string): VerifyResult<T> => ({ ok: false, reason, message });
  if (typeof envelope !== "object" || envelope === null || !("data" in envelope) || !("cite" in envelope))
    return fail("malformed", "not a {data, cite} envelope");
  const parsed = CiteSchema.safeParse((envelope as { cite: unknown }).cite);
  if (!parsed.success) return fail("malformed", formatIssues(parsed.error.issues));
  const cite = parsed.data;
  const key = opts.keys.get(cite.key_id);
  if (!key) return fail("unknown_key", `key ${cite.key_id} is not trusted`);
  const now = (opts.now ?? Date.now)();
  const notAfter = opts.notAfter?.get(cite.key_id);
  if (notAfter !== undefined && now > notAfter)
    return fail("expired_key", `key ${cite.key_id} was retired at ${new Date(notAfter).toISOString()}`);
  const { sig, ...unsigned } = cite;
  let sigOk = false;
  try {
    sigOk = verify(null, signingInput(unsigned), key, Buffer.from(sig, "base64"));
  } catch {
    sigOk = false;
  }
  if (!sigOk) return fail("bad_signature", "signature does not match the cite");
  const data = (envelope as { data: unknown }).data;
  let digest: string;
  try {
    digest = dataDigest(data);
  } catch (e) {
    return fail("malformed", `data cannot be canonicalized: ${(e as Error).message}`);
  }
  if (digest !== cite.data_sha256) return fail("data_mismatch", "data does not hash to data_sha256");
  if (cite.profile !== opts.profile)
    return fail("wrong_profile", `cite was issued for profile ${cite.profile}, not ${opts.profile}`);
  if (opts.expect) {
    if (cite.api !== opts.expect.api) return fail("wrong_call", `cite is for api ${cite.api}, the call was ${opts.expect.api}`);
    if (canonicalize(cite.params) !== canonicalize(opts.expect.params))
      return fail(
        "wrong_call",
        `cite params ${canonicalize(cite.params)} are not the call's ${canonicalize(opts.expect.params)}`,
      );
  }
  const age = now - Date.parse(cite.retrieved_at);
  const maxAge = opts.maxAgeMs ?? 10 * 60_000;
  if (age > maxAge)
    return fail("stale", `cite is ${Math.round(age / 1000)} s old; at most ${Math.round(maxAge / 1000)} s is accepted`);
  if (age < -60_000) return fail("stale", "cite is dated in the future");
  return { ok: true, envelope: { data: data as T, cite } };
}

/** verifyCite, throwing CiteInvalid on failure. */
export function assertCite<T = unknown>(envelope: unknown, opts: VerifyOptions): CiteEnvelope<T> {
  const r = verifyCite<T>(envelope, opts);
  if (!r.ok) throw new CiteInvalid(r.reason, r.message);
  return r.envelope;
}

export function keyMap(keys: PublicCiteKey[]): Map<string, KeyObject> {
  return new Map(keys.map((k) => [k.key_id, importPublicCiteKey(k)]));
}

/**
 * A pinned key set: `{"keys":[{key_id, alg?, x | public_key, not_after?}]}` (the shape of the data service's
 * `cite-keys.json` / `/.well-known/cite-keys`). The fleet writes it into each profile where the tenant cannot change it.
 * `public_key` is accepted as another name of `x` (base64url of the raw Ed25519 key); `not_after` is an ISO time.
 */
export const PinnedKeysFileSchema = z.object({
  keys: z.array(
    z
      .object({
        key_id: z.string().min(1),
        alg: z.literal("Ed25519").optional(),
        x: z.string().min(1).optional(),
        public_key: z.string().min(1).optional(),
        not_after: z.string().datetime({ offset: true }).nullable().optional(),
      })
      .passthrough()
      .refine((k) => !!(k.x ?? k.public_key), "a key needs x (or public_key)"),
  ),
});

export interface PinnedKeys {
  keys: Map<string, KeyObject>;
  notAfter: Map<string, number>;
}

/** Parse a pinned keys file. Throws on a malformed file or a key whose id does not match it (never half-loads). */
export function parsePinnedKeys(text: string): PinnedKeys {
  const parsed = PinnedKeysFileSchema.parse(JSON.parse(text));
  const keys = new Map<string, KeyObject>();
  const notAfter = new Map<string, number>();
  for (const k of parsed.keys) {
    keys.set(k.key_id, importPublicCiteKey({ key_id: k.key_id, alg: "Ed25519", x: (k.x ?? k.public_key) as string }));
    if (k.not_after) notAfter.set(k.key_id, Date.parse(k.not_after));
  }
  return { keys, notAfter };
}
