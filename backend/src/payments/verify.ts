/**
 * Pure checks of an incoming WeChat Pay notification, in the order a forger meets them: headers present, timestamp
 * within the window, serial known, SHA256withRSA signature over `timestamp\nnonce\nbody\n`, then JSON, then the
 * AES-256-GCM resource. Each refusal carries a closed `reason` (a metric label) and the HTTP status to answer.
 */
import type { PlatformKeys } from "../wechatpay/platform-keys.js";
import { decryptResource, type NotificationBody, responseMessage, rsaVerify } from "../wechatpay/protocol.js";

export type RefusalReason =
  | "oversized"
  | "missing_signature"
  | "stale_timestamp"
  | "unknown_serial"
  | "bad_signature"
  | "replayed_nonce"
  | "malformed_json"
  | "decrypt_failed"
  | "mchid_mismatch"
  | "appid_mismatch"
  | "unknown_order"
  | "amount_mismatch"
  | "currency_mismatch"
  | "internal";

export class NotifyRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type HeaderBag = Record<string, string | string[] | undefined>;

function h(headers: HeaderBag, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  return undefined;
}

export interface VerifiedNotification {
  body: NotificationBody;
  plaintext: Record<string, unknown>;
  nonce: string;
  serial: string;
}

export function verifyNotification(o: {
  headers: HeaderBag;
  raw: string;
  keys: PlatformKeys;
  apiV3Key: string;
  nowS: number;
  maxSkewS?: number;
}): Omit<VerifiedNotification, "plaintext" | "body"> & { parse: () => Omit<VerifiedNotification, "nonce" | "serial"> } {
  const ts = h(o.headers, "wechatpay-timestamp");
  const nonce = h(o.headers, "wechatpay-nonce");
  const sig = h(o.headers, "wechatpay-signature");
  const serial = h(o.headers, "wechatpay-serial");
  if (!ts || !nonce || !sig || !serial)
    throw new NotifyRefused("missing_signature", 401, "Wechatpay-* signature headers missing");
  if (!/^[0-9]{1,12}$/.test(ts) || Math.abs(o.nowS - Number(ts)) > (o.maxSkewS ?? 300)) {
    throw new NotifyRefused("stale_timestamp", 401, "Wechatpay-Timestamp outside the 5 minute window");
  }
  const key = o.keys.get(serial);
  if (!key) throw new NotifyRefused("unknown_serial", 401, `unknown Wechatpay-Serial ${serial.slice(0, 64)}`);
  if (!rsaVerify(responseMessage(ts, nonce, o.raw), sig, key))
    throw new NotifyRefused("bad_signature", 401, "signature verification failed");
  return {
    nonce,
    serial,
    parse: () => {
      let body: NotificationBody;
      try {
        body = JSON.parse(o.raw) as NotificationBody;
      } catch {
        throw new NotifyRefused("malformed_json", 400, "body is not JSON");
      }
      if (
        !body ||
        typeof body !== "object" ||
        typeof body.id !== "string" ||
        !body.resource ||
        typeof body.event_type !== "string"
      ) {
        throw new NotifyRefused("malformed_json", 400, "body is not a notification");
      }
      let plaintext: Record<string, unknown>;
      try {
        plaintext = JSON.parse(decryptResource(body.resource, o.apiV3Key)) as Record<string, unknown>;
      } catch {
        throw new NotifyRefused("decrypt_failed", 400, "resource does not decrypt (tampered or wrong key)");
      }
      return { body, plaintext };
    },
  };
}
