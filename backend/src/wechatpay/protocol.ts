/**
 * WeChat Pay APIv3 wire protocol, pure: the merchant `Authorization` header, the signed-message formats, response and
 * notification signatures (SHA256withRSA, base64), and the AEAD_AES_256_GCM resource encryption. Used by the
 * merchant client, the notification verifier and the simulator.
 */
import { createCipheriv, createDecipheriv, createSign, createVerify, type KeyObject, randomBytes } from "node:crypto";

export const AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048";
export const GCM_ALGORITHM = "AEAD_AES_256_GCM";
const NONCE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** A random alphanumeric string (WeChat's nonce_str and resource nonce are 32 and 12 such characters). */
export function nonceStr(length = 32): string {
  const bytes = randomBytes(length);
  let s = "";
  for (const b of bytes) s += NONCE_CHARS[b % NONCE_CHARS.length];
  return s;
}

export function unixNow(): number {
  return Math.floor(Date.now() / 1000);
}

/** Request message: `METHOD\nURL(path?query)\nTIMESTAMP\nNONCE\nBODY\n`. */
export function requestMessage(method: string, url: string, timestamp: string, nonce: string, body: string): string {
  return `${method.toUpperCase()}\n${url}\n${timestamp}\n${nonce}\n${body}\n`;
}

/** Response and notification message: `TIMESTAMP\nNONCE\nBODY\n`. */
export function responseMessage(timestamp: string, nonce: string, body: string): string {
  return `${timestamp}\n${nonce}\n${body}\n`;
}

export function rsaSign(message: string, privateKey: KeyObject | string): string {
  return createSign("RSA-SHA256").update(message).sign(privateKey, "base64");
}

export function rsaVerify(message: string, signatureB64: string, publicKey: KeyObject | string): boolean {
  try {
    return createVerify("RSA-SHA256").update(message).verify(publicKey, signatureB64, "base64");
  } catch {
    return false;
  }
}

export interface MerchantAuth {
  mchid: string;
  nonce_str: string;
  signature: string;
  timestamp: string;
  serial_no: string;
}

export function buildAuthorization(o: {
  mchid: string;
  serialNo: string;
  privateKey: KeyObject | string;
  method: string;
  url: string;
  body: string;
  timestamp?: string;
  nonce?: string;
}): string {
  const timestamp = o.timestamp ?? String(unixNow());
  const nonce = o.nonce ?? nonceStr();
  const signature = rsaSign(requestMessage(o.method, o.url, timestamp, nonce, o.body), o.privateKey);
  return `${AUTH_SCHEME} mchid="${o.mchid}",nonce_str="${nonce}",signature="${signature}",timestamp="${timestamp}",serial_no="${o.serialNo}"`;
}

/** Parses the merchant Authorization header; undefined when it is not the APIv3 scheme with all five fields. */
export function parseAuthorization(header: string | undefined): MerchantAuth | undefined {
  if (!header?.startsWith(`${AUTH_SCHEME} `)) return undefined;
  const fields: Record<string, string> = {};
  for (const m of header.slice(AUTH_SCHEME.length + 1).matchAll(/([a-z_]+)="([^"]*)"/g)) fields[m[1] as string] = m[2] as string;
  const { mchid, nonce_str, signature, timestamp, serial_no } = fields;
  if (!mchid || !nonce_str || !signature || !timestamp || !serial_no) return undefined;
  return { mchid, nonce_str, signature, timestamp, serial_no };
}

/** Headers WeChat Pay puts on signed responses and notifications. */
export function signedHeaders(
  body: string,
  serial: string,
  privateKey: KeyObject | string,
  timestamp?: string,
): Record<string, string> {
  const ts = timestamp ?? String(unixNow());
  const nonce = nonceStr();
  return {
    "Wechatpay-Timestamp": ts,
    "Wechatpay-Nonce": nonce,
    "Wechatpay-Signature": rsaSign(responseMessage(ts, nonce, body), privateKey),
    "Wechatpay-Serial": serial,
    "Wechatpay-Signature-Type": AUTH_SCHEME,
  };
}

export interface EncryptedResource {
  algorithm: string;
  ciphertext: string;
  associated_data: string;
  nonce: string;
  original_type?: string;
}

/** AES-256-GCM with the 32-byte APIv3 key; `ciphertext` is base64(ciphertext || 16-byte tag), the nonce is used as the IV. */
export function encryptResource(
  plaintext: string,
  apiV3Key: string,
  associatedData: string,
  nonce = nonceStr(12),
): EncryptedResource {
  const cipher = createCipheriv("aes-256-gcm", Buffer.from(apiV3Key, "utf8"), Buffer.from(nonce, "utf8"));
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const enc = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { algorithm: GCM_ALGORITHM, ciphertext: enc.toString("base64"), associated_data: associatedData, nonce };
}

/** Decrypts an APIv3 resource; throws when the tag does not authenticate (tampered ciphertext, wrong key or AAD). */
export function decryptResource(r: EncryptedResource, apiV3Key: string): string {
  if (r.algorithm !== GCM_ALGORITHM) throw new Error(`unsupported algorithm ${r.algorithm}`);
  const raw = Buffer.from(r.ciphertext, "base64");
  if (raw.length < 17) throw new Error("ciphertext too short");
  const decipher = createDecipheriv("aes-256-gcm", Buffer.from(apiV3Key, "utf8"), Buffer.from(r.nonce, "utf8"));
  decipher.setAAD(Buffer.from(r.associated_data ?? "", "utf8"));
  decipher.setAuthTag(raw.subarray(raw.length - 16));
  return Buffer.concat([decipher.update(raw.subarray(0, raw.length - 16)), decipher.final()]).toString("utf8");
}

/** RFC 3339 with the +08:00 offset WeChat Pay uses, e.g. `2026-12-01T18:00:00+08:00`. */
export function rfc3339Beijing(ms: number): string {
  const d = new Date(ms + 8 * 3600_000);
  return `${d.toISOString().slice(0, 19)}+08:00`;
}

export const OUT_TRADE_NO_RE = /^[0-9A-Za-z_\-|*]{6,32}$/;

/** Plaintext of a `TRANSACTION.*` resource, as WeChat Pay sends it and as the query API returns it. */
export interface Transaction {
  appid: string;
  mchid: string;
  out_trade_no: string;
  transaction_id?: string;
  trade_type?: string;
  trade_state: "SUCCESS" | "REFUND" | "NOTPAY" | "CLOSED" | "REVOKED" | "USERPAYING" | "PAYERROR";
  trade_state_desc: string;
  bank_type?: string;
  attach?: string;
  success_time?: string;
  payer?: { openid: string };
  amount?: { total: number; payer_total?: number; currency: string; payer_currency?: string };
}

/** Notification envelope (`POST notify_url`). */
export interface NotificationBody {
  id: string;
  create_time: string;
  event_type: string;
  resource_type: string;
  summary: string;
  resource: EncryptedResource;
}
