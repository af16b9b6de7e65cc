/**
 * HMAC-SHA256 request signing for the provisioning transport (billing -> fleet `PUT /v1/profiles/{name}`).
 * A provisioning credential is a key id plus a shared secret; it can only provision, never administer.
 *
 * Canonical string (each part on its own line, no trailing newline):
 *   METHOD            upper case
 *   PATH              the request target as sent, with its query string
 *   TIMESTAMP         unix seconds
 *   NONCE             16-128 chars of [A-Za-z0-9_-]
 *   SHA256-hex(body)  of the exact body bytes (empty body: hash of "")
 * Headers: `Authorization: TWILIGHT-HMAC-SHA256 Credential=<key_id>, Signature=<hex>`, `X-Twilight-Timestamp`,
 * `X-Twilight-Nonce`, `X-Twilight-Content-SHA256`.
 *
 * Pure: no clock, no storage. Replay protection is the CALLER's job: after `verifyProvisionRequest` succeeds, remember
 * `(keyId, nonce)` for at least 2 * maxSkewS seconds and refuse a request whose nonce was seen; requests outside the
 * skew window are already refused here, so that memory stays bounded.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Unauthorized } from "./errors.js";

export const PROVISION_AUTH_SCHEME = "TWILIGHT-HMAC-SHA256";
export const PROVISION_HEADERS = {
  authorization: "Authorization",
  timestamp: "X-Twilight-Timestamp",
  nonce: "X-Twilight-Nonce",
  contentSha256: "X-Twilight-Content-SHA256",
} as const;

export type ProvisionAuthReason =
  | "missing_header"
  | "bad_format"
  | "unknown_key"
  | "clock_skew"
  | "digest_mismatch"
  | "bad_signature"
  /** The nonce was seen before (the verifier's caller keeps the nonces; see verifyProvisionRequest). */
  | "replayed";

/** Unauthorized with a machine-readable `reason` (also in `details.reason`) for logs and labelled counters. */
export class ProvisionAuthRejected extends Unauthorized {
  readonly reason: ProvisionAuthReason;
  constructor(reason: ProvisionAuthReason, message: string) {
    super(`provisioning request refused: ${message}`, "sign the request with signProvisionRequest and a current clock");
    this.reason = reason;
    this.details.reason = reason;
  }
}

export type Body = string | Uint8Array | undefined;

const KEY_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const NONCE_RE = /^[A-Za-z0-9_-]{16,128}$/;
const TS_RE = /^[0-9]{1,12}$/;
const HEX64_RE = /^[0-9a-f]{64}$/;
const AUTH_RE = new RegExp(`^${PROVISION_AUTH_SCHEME} Credential=([A-Za-z0-9._-]{1,64}), ?Signature=([0-9a-f]{64})$`);

export function bodySha256Hex(body: Body): string {
  return createHash("sha256")
    .update(body ?? "")
    .digest("hex");
}

export function provisionCanonicalString(p: {
  method: string;
  path: string;
  timestamp: string;
  nonce: string;
  bodySha256: string;
}): string {
  return [p.method.toUpperCase(), p.path, p.timestamp, p.nonce, p.bodySha256].join("\n");
}

function hmacHex(secret: string | Uint8Array, text: string): string {
  return createHmac("sha256", secret).update(text).digest("hex");
}

export interface SignProvisionOptions {
  keyId: string;
  secret: string | Uint8Array;
  method: string;
  /** Request target with query string, e.g. `/v1/profiles/alice?dry=1`. */
  path: string;
  body?: Body;
  /** Unix seconds; defaults to the current time. */
  now?: number;
  nonce?: string;
}

/** Returns the four headers to send with the request. */
export function signProvisionRequest(o: SignProvisionOptions): Record<string, string> {
  if (!KEY_ID_RE.test(o.keyId)) throw new Error("provisioning key id must be 1-64 chars of [A-Za-z0-9._-]");
  const nonce = o.nonce ?? randomBytes(16).toString("hex");
  if (!NONCE_RE.test(nonce)) throw new Error("nonce must be 16-128 chars of [A-Za-z0-9_-]");
  const timestamp = String(Math.floor(o.now ?? Date.now() / 1000));
  const bodySha256 = bodySha256Hex(o.body);
  const signature = hmacHex(o.secret, provisionCanonicalString({ method: o.method, path: o.path, timestamp, nonce, bodySha256 }));
  return {
    [PROVISION_HEADERS.authorization]: `${PROVISION_AUTH_SCHEME} Credential=${o.keyId}, Signature=${signature}`,
    [PROVISION_HEADERS.timestamp]: timestamp,
    [PROVISION_HEADERS.nonce]: nonce,
    [PROVISION_HEADERS.contentSha256]: bodySha256,
  };
}

export type HeaderBag = Record<string, string | string[] | undefined>;

export interface VerifyProvisionOptions {
  /** Incoming headers (any case, e.g. node's `req.headers`). */
  headers: HeaderBag;
  method: string;
  path: string;
  /** The raw body bytes exactly as received. */
  body?: Body;
  /** Returns the secret for a key id, or undefined when the key is unknown or revoked. */
  lookupSecret: (keyId: string) => string | Uint8Array | undefined;
  /** Unix seconds. */
  now: number;
  maxSkewS?: number;
}

function header(h: HeaderBag, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(h)) {
    if (k.toLowerCase() !== want) continue;
    return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

function hexEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Verifies a signed provisioning request; throws ProvisionAuthRejected (an Unauthorized) with the reason. */
export function verifyProvisionRequest(o: VerifyProvisionOptions): { keyId: string; nonce: string } {
  const auth = header(o.headers, PROVISION_HEADERS.authorization);
  const ts = header(o.headers, PROVISION_HEADERS.timestamp);
  const nonce = header(o.headers, PROVISION_HEADERS.nonce);
  const digest = header(o.headers, PROVISION_HEADERS.contentSha256);
  const missing = [
    [PROVISION_HEADERS.authorization, auth],
    [PROVISION_HEADERS.timestamp, ts],
    [PROVISION_HEADERS.nonce, nonce],
    [PROVISION_HEADERS.contentSha256, digest],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length || !auth || !ts || !nonce || !digest) {
    throw new ProvisionAuthRejected("missing_header", `missing header(s): ${missing.join(", ")}`);
  }
  const m = AUTH_RE.exec(auth.trim());
  if (!m)
    throw new ProvisionAuthRejected("bad_format", `Authorization is not "${PROVISION_AUTH_SCHEME} Credential=.., Signature=.."`);
  if (!TS_RE.test(ts)) throw new ProvisionAuthRejected("bad_format", "timestamp is not unix seconds");
  if (!NONCE_RE.test(nonce)) throw new ProvisionAuthRejected("bad_format", "nonce is not 16-128 chars of [A-Za-z0-9_-]");
  if (!HEX64_RE.test(digest)) throw new ProvisionAuthRejected("bad_format", "content digest is not lower-case SHA-256 hex");
  const keyId = m[1] as string;
  const signature = m[2] as string;
  const maxSkew = o.maxSkewS ?? 300;
  const skew = Math.abs(Math.floor(o.now) - Number(ts));
  if (skew > maxSkew) throw new ProvisionAuthRejected("clock_skew", `timestamp is ${skew}s away from now (max ${maxSkew}s)`);
  const secret = o.lookupSecret(keyId);
  if (secret === undefined || secret.length === 0) throw new ProvisionAuthRejected("unknown_key", `unknown key id ${keyId}`);
  const actual = bodySha256Hex(o.body);
  if (!hexEqual(actual, digest))
    throw new ProvisionAuthRejected("digest_mismatch", "body does not match X-Twilight-Content-SHA256");
  const expected = hmacHex(
    secret,
    provisionCanonicalString({ method: o.method, path: o.path, timestamp: ts, nonce, bodySha256: actual }),
  );
  if (!hexEqual(expected, signature)) throw new ProvisionAuthRejected("bad_signature", "signature does not match");
  return { keyId, nonce };
}
