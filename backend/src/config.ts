/**
 * Billing configuration: one zod schema over the environment, checked at start (a bad value stops the service with
 * the variable named). Key material is read from files (`*_FILE`), so no secret sits in the environment listing.
 */
import { readFileSync } from "node:fs";
import { ConfigInvalid, loadConfig } from "@twilight/core";
import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const int = (def: number, min = 0) => z.coerce.number().int().min(min).default(def);

export const BillingEnv = z
  .object({
    BILLING_HOST: z.string().default("127.0.0.1"),
    BILLING_PORT: int(8090),
    /** Where WeChat Pay reaches us: notify_url = BILLING_PUBLIC_URL + /v1/payments/wechat/notify. */
    BILLING_PUBLIC_URL: z.string().url(),
    BILLING_DATABASE_URL: z.string().default("sqlite:ops/billing.db"),
    /** >= 32 chars: seals connection secrets at rest and signs TWILIGHT_API_TOKEN. */
    BILLING_SECRET_FILE: z.string().min(1),
    BILLING_ORDER_TTL_S: int(900, 60),
    BILLING_TOKEN_GRACE_DAYS: int(7),
    BILLING_NOTIFY_MAX_BYTES: int(64 * 1024, 1024),
    /** After a period ends: days until the profile is stopped, then days until it is deleted. */
    BILLING_GRACE_DAYS: int(3),
    BILLING_RETENTION_DAYS: int(30),
    WECHATPAY_BASE_URL: z.string().url().default("https://api.mch.weixin.qq.com"),
    WECHATPAY_MCHID: z.string().regex(/^[0-9]{6,32}$/),
    WECHATPAY_APPID: z.string().regex(/^wx[0-9a-zA-Z]{6,32}$/),
    WECHATPAY_MERCHANT_SERIAL: z.string().regex(/^[0-9A-Fa-f]{8,64}$/),
    WECHATPAY_MERCHANT_KEY_FILE: z.string().min(1),
    WECHATPAY_APIV3_KEY_FILE: z.string().min(1),
    /** Public-key mode (merchants since late 2024): the key's id and PEM file. */
    WECHATPAY_PUBLIC_KEY_ID: z
      .string()
      .regex(/^PUB_KEY_ID_[0-9A-Za-z]+$/)
      .optional(),
    WECHATPAY_PUBLIC_KEY_FILE: z.string().optional(),
    /** Certificate mode: comma-separated PEM files, and/or download them at start. */
    WECHATPAY_PLATFORM_CERT_FILES: z.string().optional(),
    WECHATPAY_LOAD_CERTIFICATES: bool.default("false"),
    FLEET_TRANSPORT: z.enum(["http", "ssh"]).default("http"),
    FLEET_URL: z.string().url().optional(),
    FLEET_KEY_ID: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .optional(),
    FLEET_KEY_SECRET_FILE: z.string().optional(),
    FLEET_SSH_HOST: z.string().optional(),
    FLEET_SSH_PORT: int(22, 1),
    FLEET_SSH_USER: z.string().default("twilight"),
    FLEET_SSH_KEY_FILE: z.string().optional(),
    FLEET_SSH_HOST_KEY_SHA256: z
      .string()
      .regex(/^SHA256:[A-Za-z0-9+/]{43}$/)
      .optional(),
    OUTBOX_MAX_ATTEMPTS: int(10, 1),
    OUTBOX_BASE_DELAY_MS: int(1000, 1),
    OUTBOX_MAX_DELAY_MS: int(300_000, 1),
    OUTBOX_POLL_MS: int(1000, 10),
    RECONCILE_INTERVAL_S: int(60, 1),
    RECONCILE_UNPAID_AFTER_S: int(120, 0),
    LOG_LEVEL: z.string().default("info"),
  })
  .superRefine((e, ctx) => {
    const need = (ok: boolean, path: string, message: string) => ok || ctx.addIssue({ code: "custom", path: [path], message });
    need(
      Boolean(e.WECHATPAY_PUBLIC_KEY_ID) === Boolean(e.WECHATPAY_PUBLIC_KEY_FILE),
      "WECHATPAY_PUBLIC_KEY_FILE",
      "set both WECHATPAY_PUBLIC_KEY_ID and _FILE, or neither",
    );
    need(
      Boolean(e.WECHATPAY_PUBLIC_KEY_ID || e.WECHATPAY_PLATFORM_CERT_FILES || e.WECHATPAY_LOAD_CERTIFICATES),
      "WECHATPAY_PUBLIC_KEY_ID",
      "no way to verify WeChat Pay: set the public key (public-key mode) or platform certificates",
    );
    if (e.FLEET_TRANSPORT === "http") {
      need(Boolean(e.FLEET_URL), "FLEET_URL", "required for FLEET_TRANSPORT=http");
      need(
        Boolean(e.FLEET_KEY_ID && e.FLEET_KEY_SECRET_FILE),
        "FLEET_KEY_ID",
        "FLEET_KEY_ID and FLEET_KEY_SECRET_FILE are required for http",
      );
    } else {
      need(
        Boolean(e.FLEET_SSH_HOST && e.FLEET_SSH_KEY_FILE),
        "FLEET_SSH_HOST",
        "FLEET_SSH_HOST and FLEET_SSH_KEY_FILE are required for ssh",
      );
      need(Boolean(e.FLEET_SSH_HOST_KEY_SHA256), "FLEET_SSH_HOST_KEY_SHA256", "pin the fleet host key (ssh-keygen -lf)");
    }
  });
export type BillingEnvT = z.infer<typeof BillingEnv>;

/** Resolved configuration: the environment plus the contents of the key files. */
export interface BillingConfig {
  env: BillingEnvT;
  secret: string;
  merchantKeyPem: string;
  apiV3Key: string;
  publicKeyPem?: string;
  certPems: string[];
  fleetSecret?: string;
  sshKey?: string;
}

function readKey(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new ConfigInvalid(`${what}: cannot read ${path}: ${(e as Error).message}`);
  }
}

export function loadBillingConfig(source: NodeJS.ProcessEnv = process.env): BillingConfig {
  const env = loadConfig("billing", BillingEnv, source);
  const secret = readKey(env.BILLING_SECRET_FILE, "BILLING_SECRET_FILE");
  if (secret.length < 32) throw new ConfigInvalid("BILLING_SECRET_FILE must hold at least 32 characters");
  const apiV3Key = readKey(env.WECHATPAY_APIV3_KEY_FILE, "WECHATPAY_APIV3_KEY_FILE");
  if (Buffer.byteLength(apiV3Key) !== 32) throw new ConfigInvalid("the APIv3 key must be exactly 32 bytes");
  return {
    env,
    secret,
    merchantKeyPem: readKey(env.WECHATPAY_MERCHANT_KEY_FILE, "WECHATPAY_MERCHANT_KEY_FILE"),
    apiV3Key,
    ...(env.WECHATPAY_PUBLIC_KEY_FILE
      ? { publicKeyPem: readKey(env.WECHATPAY_PUBLIC_KEY_FILE, "WECHATPAY_PUBLIC_KEY_FILE") }
      : {}),
    certPems: (env.WECHATPAY_PLATFORM_CERT_FILES ?? "")
      .split(",")
      .filter(Boolean)
      .map((f) => readKey(f.trim(), "WECHATPAY_PLATFORM_CERT_FILES")),
    ...(env.FLEET_KEY_SECRET_FILE ? { fleetSecret: readKey(env.FLEET_KEY_SECRET_FILE, "FLEET_KEY_SECRET_FILE") } : {}),
    ...(env.FLEET_SSH_KEY_FILE ? { sshKey: readKey(env.FLEET_SSH_KEY_FILE, "FLEET_SSH_KEY_FILE") } : {}),
  };
}
