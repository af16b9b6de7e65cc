/**
 * The gateway's configuration: environment variables, validated once at start (fails fast). The upstream base URL and
 * key are NOT here: they live only in the secret file (`GATEWAY_SECRET_FILE`, default `<data dir>/upstream.env`, mode
 * 0600) as `UPSTREAM_BASE_URL` and `UPSTREAM_API_KEY`, re-read when it changes (rotate the upstream key by rewriting it).
 */
import { join, resolve } from "node:path";
import { loadConfig, PLANS } from "@twilight/core";
import { z } from "zod";

const jsonOf = <T extends z.ZodTypeAny>(schema: T) =>
  z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (!s) return undefined;
      try {
        return JSON.parse(s) as unknown;
      } catch (e) {
        ctx.addIssue({ code: "custom", message: `not JSON: ${(e as Error).message}` });
        return z.NEVER;
      }
    })
    .pipe(schema.optional());

const limitsOverride = z
  .object({
    rpm: z.number().int().min(1),
    tpm: z.number().int().min(1),
    tpd: z.number().int().min(1),
    monthlyFen: z.number().int().min(0),
    concurrency: z.number().int().min(1),
    queue: z.number().int().min(0),
  })
  .partial()
  .strict();

const Schema = z
  .object({
    /** Address(es) to listen on, comma-separated (all on GATEWAY_PORT). */
    GATEWAY_HOST: z
      .string()
      .regex(/^[\w.:-]+(,[\w.:-]+)*$/)
      .default("127.0.0.1"),
    GATEWAY_PORT: z.coerce.number().int().min(0).max(65535).default(9200),
    GATEWAY_DATA_DIR: z.string().min(1),
    GATEWAY_SECRET_FILE: z.string().optional(),
    /** In-flight requests upstream in all (the shared key's concurrency), handed out round-robin between keys. */
    GATEWAY_UPSTREAM_SLOTS: z.coerce.number().int().min(1).max(4096).default(32),
    GATEWAY_UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
    GATEWAY_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
    GATEWAY_RETRY_BASE_MS: z.coerce.number().int().min(1).default(200),
    GATEWAY_RETRY_MAX_MS: z.coerce.number().int().min(1).default(4_000),
    GATEWAY_MAX_RETRY_AFTER_MS: z.coerce.number().int().min(0).default(10_000),
    /** `{"basic": {"rpm": 5}}`: per-plan overrides of the defaults in policy.ts. */
    GATEWAY_LIMITS: jsonOf(z.object(Object.fromEntries(PLANS.map((p) => [p, limitsOverride.optional()]))).strict()),
    /** `{"model": {"inFenPerM": 100, "outFenPerM": 200}}`: added to (or replacing entries of) the default price table. */
    GATEWAY_PRICES: jsonOf(z.record(z.object({ inFenPerM: z.number().min(0), outFenPerM: z.number().min(0) }).strict())),
    LOG_LEVEL: z.string().default("info"),
  })
  .transform((c) => {
    const dataDir = resolve(c.GATEWAY_DATA_DIR);
    return {
      host: c.GATEWAY_HOST,
      port: c.GATEWAY_PORT,
      dataDir,
      secretFile: resolve(c.GATEWAY_SECRET_FILE ?? join(dataDir, "upstream.env")),
      keysFile: join(dataDir, "keys.json"),
      usageDb: join(dataDir, "usage.db"),
      adminTokenFile: join(dataDir, "admin-token"),
      slots: c.GATEWAY_UPSTREAM_SLOTS,
      timeoutMs: c.GATEWAY_UPSTREAM_TIMEOUT_MS,
      retry: {
        retries: c.GATEWAY_RETRIES,
        baseMs: c.GATEWAY_RETRY_BASE_MS,
        maxMs: c.GATEWAY_RETRY_MAX_MS,
        maxRetryAfterMs: c.GATEWAY_MAX_RETRY_AFTER_MS,
      },
      limits: c.GATEWAY_LIMITS as Partial<Record<(typeof PLANS)[number], z.infer<typeof limitsOverride>>> | undefined,
      prices: c.GATEWAY_PRICES,
      logLevel: c.LOG_LEVEL,
    };
  });

export type GatewayConfig = z.output<typeof Schema>;

export function gatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return loadConfig("gateway", Schema, env);
}
