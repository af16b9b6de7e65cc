/**
 * Secrets a paid order carries to its profile (the plan's 1.1): the profile's API key (the user's key at the front
 * door), a per-profile model key, and TWILIGHT_API_TOKEN, a signed expiring token bound to the user. Also the sealing
 * used to keep connection info at rest until it is shown once.
 *
 * User token: `tw_` + base64url(30 bytes) = 43 chars, the template's generated format (`tw_` + 40 base64url), so the
 * fleet accepts it as a supplied generated secret: expiry (u32 unix s) | token id (8 bytes) |
 * HMAC-SHA256(secret, "twilight-user-token\0" expiry|id|user_id) truncated to 18 bytes (144 bits).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Unauthorized } from "@twilight/core";

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function base62(n: number, rnd: (n: number) => Buffer = randomBytes): string {
  let s = "";
  while (s.length < n) {
    for (const b of rnd(n * 2)) {
      if (b < 248 && s.length < n) s += BASE62[b % 62];
    }
  }
  return s;
}

export interface ProfileSecrets {
  API_SERVER_KEY: string;
  SILICONFLOW_API_KEY: string;
  TWILIGHT_API_TOKEN: string;
}

export function generateProfileSecrets(o: { userId: string; tokenSecret: string; ttlS: number; now?: number }): ProfileSecrets {
  return {
    API_SERVER_KEY: `hk_${base62(37)}`,
    SILICONFLOW_API_KEY: `sk-${base62(45)}`,
    TWILIGHT_API_TOKEN: issueUserToken(o),
  };
}

function tokenMac(secret: string, head: Buffer, userId: string): Buffer {
  return createHmac("sha256", secret).update("twilight-user-token\0").update(head).update(userId).digest().subarray(0, 18);
}

export function issueUserToken(o: { userId: string; tokenSecret: string; ttlS: number; now?: number }): string {
  const head = Buffer.alloc(12);
  head.writeUInt32BE(Math.floor((o.now ?? Date.now() / 1000) + o.ttlS), 0);
  randomBytes(8).copy(head, 4);
  return `tw_${Buffer.concat([head, tokenMac(o.tokenSecret, head, o.userId)]).toString("base64url")}`;
}

/** Verifies a user token for `userId`; throws Unauthorized when forged, for another user, or expired. */
export function verifyUserToken(o: { token: string; userId: string; tokenSecret: string; now?: number }): {
  tokenId: string;
  expiresAt: number;
} {
  const m = /^tw_([A-Za-z0-9_-]{40})$/.exec(o.token);
  if (!m) throw new Unauthorized("token format is wrong");
  const raw = Buffer.from(m[1] as string, "base64url");
  const head = raw.subarray(0, 12);
  const mac = raw.subarray(12);
  const want = tokenMac(o.tokenSecret, head, o.userId);
  if (mac.length !== want.length || !timingSafeEqual(mac, want)) throw new Unauthorized("token signature is wrong");
  const expiresAt = head.readUInt32BE(0);
  if (expiresAt < (o.now ?? Date.now() / 1000)) throw new Unauthorized("token expired", "renew the subscription");
  return { tokenId: head.subarray(4).toString("hex"), expiresAt };
}

/** AES-256-GCM with a key derived from the service secret; used for connection info waiting to be shown once. */
export function seal(plaintext: string, secret: string): string {
  const key = createHash("sha256").update(`twilight-seal\0${secret}`).digest();
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  const enc = Buffer.concat([c.update(plaintext, "utf8"), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), enc]).toString("base64");
}

export function unseal(sealed: string, secret: string): string {
  const key = createHash("sha256").update(`twilight-seal\0${secret}`).digest();
  const raw = Buffer.from(sealed, "base64");
  const d = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
  d.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([d.update(raw.subarray(28)), d.final()]).toString("utf8");
}
