/** The service's configuration: one zod schema over the environment, read once at start (fails fast). */
import { fileURLToPath } from "node:url";
import { loadConfig, normalizeStockCode } from "@twilight/core";
import { z } from "zod";
import { parseClockTime } from "./clock.js";

/** `<repo>/ops/mcp`: this file is `<repo>/mcp/tushare/dist/config.js`. */
export const DEFAULT_DATA_DIR = fileURLToPath(new URL("../../../ops/mcp", import.meta.url));

const emptyToUndefined = (v: unknown) => (v === "" ? undefined : v);

export const ConfigSchema = z.object({
  MCP_DATA_DIR: z.string().min(1).default(DEFAULT_DATA_DIR),
  MCP_HOST: z.string().min(1).default("127.0.0.1"),
  MCP_PORT: z.coerce.number().int().min(0).max(65535).default(9100),
  /** Also serve on this unix socket (mode 0666; its directory decides who can reach it - the fleet makes it root-owned). */
  MCP_SOCKET_PATH: z.preprocess(emptyToUndefined, z.string().startsWith("/", "an absolute path").optional()),
  TUSHARE_URL: z.string().url().default("http://api.tushare.pro"),
  TUSHARE_TOKEN: z.preprocess(emptyToUndefined, z.string().min(8).optional()),
  TUSHARE_PER_MINUTE: z.coerce.number().int().min(1).max(10_000).default(200),
  TUSHARE_RETRY_BASE_MS: z.coerce.number().int().min(1).max(60_000).default(15_000),
  MCP_WATCH_LIST: z
    .string()
    .default("600519.SH,000858.SZ")
    .transform((s, ctx) => {
      try {
        return [
          ...new Set(
            s
              .split(",")
              .map((c) => c.trim())
              .filter(Boolean)
              .map(normalizeStockCode),
          ),
        ];
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
        return z.NEVER;
      }
    }),
  MCP_BACKFILL_YEARS: z.coerce.number().int().min(1).max(30).default(2),
  MCP_SCHEDULE_AFTER: z
    .string()
    .default("16:30")
    .transform((s, ctx) => {
      try {
        return parseClockTime(s);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
        return z.NEVER;
      }
    }),
  MCP_SCHEDULER: z.enum(["on", "off"]).default("on"),
  MCP_SCHEDULER_TICK_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  MCP_RETRY_FAILED_MINUTES: z.coerce.number().int().min(1).max(1440).default(30),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type Config = z.infer<typeof ConfigSchema>;

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadConfig("mcp-tushare", ConfigSchema, env);
}
