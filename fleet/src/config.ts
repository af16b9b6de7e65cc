/** The fleet's one configuration, from environment variables, validated at start (fails fast with a clear message). */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "@twilight/core";
import { z } from "zod";

/** The repository (or /app in an image): fleet/dist/config.js -> ../.. */
export const APP_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

const range = (def: string) =>
  z
    .string()
    .default(def)
    .transform((s, ctx) => {
      const m = /^(\d+)-(\d+)$/.exec(s.trim());
      if (!m || Number(m[1]) > Number(m[2])) {
        ctx.addIssue({ code: "custom", message: `expected LOW-HIGH, got ${JSON.stringify(s)}` });
        return z.NEVER;
      }
      return { low: Number(m[1]), high: Number(m[2]) };
    });
const ms = (def: number) => z.coerce.number().int().min(0).default(def);

const Schema = z
  .object({
    TWILIGHT_OPS_DIR: z.string().default(join(APP_DIR, "ops")),
    FLEET_PROFILES_ROOT: z.string().optional(),
    FLEET_SKILLS_DIR: z.string().optional(),
    FLEET_LOG_DIR: z.string().optional(),
    FLEET_DB_URL: z.string().optional(),
    FLEET_TEMPLATE_DIR: z.string().default(join(APP_DIR, "profile", "template-stock-research-pro")),
    FLEET_API_HOST: z.string().default("127.0.0.1"),
    FLEET_API_PORT: z.coerce.number().int().min(0).max(65535).default(8700),
    FLEET_PUBLIC_URL: z.string().url().optional(),
    FLEET_PORT_RANGE: range("18700-18999"),
    FLEET_UID_RANGE: range("20000-29999"),
    FLEET_MCP_URL_PREFAB: z.string().url().default("http://127.0.0.1:9100/mcp"),
    FLEET_MCP_URL_CONTAINER: z.string().url().default("http://twilight-mcp-tushare:9100/mcp"),
    FLEET_MCP_DATA_DIR: z.string().optional(),
    FLEET_MODEL_PROVIDER: z.enum(["offline", "custom"]).default("offline"),
    FLEET_MODEL_BASE_URL: z.string().url().default("https://api.siliconflow.cn/v1"),
    FLEET_MODEL_DEFAULT: z.string().default("Qwen/Qwen2.5-72B-Instruct"),
    FLEET_IMAGE: z.string().optional(),
    FLEET_RESTART_BASE_MS: ms(100),
    FLEET_RESTART_FACTOR: z.coerce.number().min(1).default(1.5),
    FLEET_RESTART_MAX_MS: ms(15_000),
    FLEET_RESTART_STABLE_MS: ms(30_000),
    FLEET_RESTART_MAX_TRIES: z.coerce.number().int().min(1).default(10),
    FLEET_HEALTH_INTERVAL_MS: ms(5_000),
    FLEET_HEALTH_FAILURES: z.coerce.number().int().min(1).default(3),
    FLEET_START_TIMEOUT_MS: ms(30_000),
    FLEET_STOP_TIMEOUT_MS: ms(10_000),
    FLEET_LOG_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .default(10 * 1024 * 1024),
    FLEET_LOG_KEEP: z.coerce.number().int().min(1).max(50).default(5),
    LOG_LEVEL: z.string().default("info"),
  })
  .transform((c) => {
    const ops = resolve(c.TWILIGHT_OPS_DIR);
    return {
      appDir: APP_DIR,
      opsDir: ops,
      profilesRoot: resolve(c.FLEET_PROFILES_ROOT ?? join(ops, "profiles")),
      skillsDir: resolve(c.FLEET_SKILLS_DIR ?? join(ops, "skills")),
      logDir: resolve(c.FLEET_LOG_DIR ?? join(ops, "logs")),
      dbUrl: c.FLEET_DB_URL ?? `sqlite:${join(ops, "profiles.db")}`,
      templateDir: resolve(c.FLEET_TEMPLATE_DIR),
      adminTokenFile: join(ops, "admin-token"),
      pidFile: join(ops, "fleet.pid"),
      api: { host: c.FLEET_API_HOST, port: c.FLEET_API_PORT, publicUrl: c.FLEET_PUBLIC_URL },
      ports: c.FLEET_PORT_RANGE,
      uids: c.FLEET_UID_RANGE,
      mcp: {
        urlPrefab: c.FLEET_MCP_URL_PREFAB,
        urlContainer: c.FLEET_MCP_URL_CONTAINER,
        dataDir: resolve(c.FLEET_MCP_DATA_DIR ?? join(ops, "mcp")),
      },
      model: { provider: c.FLEET_MODEL_PROVIDER, baseUrl: c.FLEET_MODEL_BASE_URL, default: c.FLEET_MODEL_DEFAULT },
      image: c.FLEET_IMAGE,
      restart: {
        baseMs: c.FLEET_RESTART_BASE_MS,
        factor: c.FLEET_RESTART_FACTOR,
        maxMs: c.FLEET_RESTART_MAX_MS,
        stableMs: c.FLEET_RESTART_STABLE_MS,
        maxTries: c.FLEET_RESTART_MAX_TRIES,
      },
      health: { intervalMs: c.FLEET_HEALTH_INTERVAL_MS, failures: c.FLEET_HEALTH_FAILURES },
      startTimeoutMs: c.FLEET_START_TIMEOUT_MS,
      stopTimeoutMs: c.FLEET_STOP_TIMEOUT_MS,
      logs: { maxBytes: c.FLEET_LOG_MAX_BYTES, keep: c.FLEET_LOG_KEEP },
      logLevel: c.LOG_LEVEL,
    };
  });

export type FleetConfig = z.output<typeof Schema>;

export function fleetConfig(env: NodeJS.ProcessEnv = process.env): FleetConfig {
  return loadConfig("fleet", Schema, env);
}
