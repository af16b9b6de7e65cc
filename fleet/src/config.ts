/** The fleet's one configuration, from environment variables, validated at start (fails fast with a clear message). */
import { join, resolve } from "node:path";
import { loadConfig } from "@twilight/core/config";
import { z } from "zod/v4";

import { APP_DIR } from "./lib/app-dir.js";
import { daemonFilePaths } from "./lib/daemon-files.js";

/** The repository (or /app in an image). */
export { APP_DIR };

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

// built on first use, not at import: the CLI imports this module for every command and most never read the config
const schema = () =>
  z
    .object({
      TWILIGHT_OPS_DIR: z.string().optional(),
      FLEET_PROFILES_ROOT: z.string().optional(),
      FLEET_SKILLS_DIR: z.string().optional(),
      FLEET_LOG_DIR: z.string().optional(),
      FLEET_DB_URL: z.string().optional(),
      /** The daemon's pid file (pid + URL; how the CLI finds it). A second daemon on the same ops dir needs its own. */
      FLEET_PID_FILE: z.string().min(1).optional(),
      FLEET_TEMPLATE_DIR: z.string().default(join(APP_DIR, "profile", "template-stock-research-pro")),
      FLEET_API_HOST: z.string().default("127.0.0.1"),
      FLEET_API_PORT: z.coerce.number().int().min(0).max(65535).default(8700),
      FLEET_PUBLIC_URL: z.string().url().optional(),
      FLEET_PORT_RANGE: range("18700-18999"),
      FLEET_UID_RANGE: range("20000-29999"),
      FLEET_MCP_URL_PREFAB: z.string().url().default("http://127.0.0.1:9100/mcp"),
      FLEET_MCP_URL_CONTAINER: z.string().url().default("http://twilight-mcp-tushare:9100/mcp"),
      /** Swarm profiles on other nodes: the data service's URL when the overlay cannot carry it (its node's address). */
      FLEET_MCP_URL_REMOTE: z.string().url().optional(),
      FLEET_MCP_DATA_DIR: z.string().optional(),
      /** The data-service container's name and its loopback port (tests run their own beside the operator's). */
      FLEET_MCP_CONTAINER: z
        .string()
        .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/)
        .default("twilight-mcp-tushare"),
      FLEET_MCP_HOST_PORT: z.coerce.number().int().min(1).max(65535).default(9100),
      /** The data service's own uid/gid (not root, not in FLEET_UID_RANGE): owns its data dir and socket dir. */
      FLEET_MCP_UID: z.coerce
        .number()
        .int()
        .min(1)
        .max(2 ** 31 - 2)
        .default(9100),
      /** Directory of the data service's unix socket (prefab profiles reach MCP there: nobody else can bind it). */
      FLEET_MCP_SOCKET_DIR: z.string().optional(),
      FLEET_MODEL_PROVIDER: z.enum(["offline", "custom"]).default("offline"),
      /** custom provider: profiles call the model gateway (default) or FLEET_MODEL_BASE_URL directly ("direct"). */
      FLEET_MODEL_ROUTE: z.enum(["gateway", "direct"]).default("gateway"),
      FLEET_GATEWAY_DATA_DIR: z.string().optional(),
      FLEET_GATEWAY_PORT: z.coerce.number().int().min(1).max(65535).default(9200),
      /** The gateway's own uid/gid when the daemon runs as root (not a tenant's, not the data service's). */
      FLEET_GATEWAY_UID: z.coerce
        .number()
        .int()
        .min(1)
        .max(2 ** 31 - 2)
        .default(9101),
      /** How containers reach the gateway; default: the `twilight` network's gateway address, found at daemon start. */
      FLEET_GATEWAY_URL_CONTAINER: z.string().url().optional(),
      FLEET_MODEL_BASE_URL: z.string().url().default("https://api.siliconflow.cn/v1"),
      FLEET_MODEL_DEFAULT: z.string().default("Qwen/Qwen2.5-72B-Instruct"),
      FLEET_IMAGE: z.string().optional(),
      /**
       * The Docker network of container profiles. Default: the engine's default bridge, which starts a container ~180 ms
       * sooner than a user-defined network (the engine sets up no embedded DNS there; bench/container-network.ts). Run
       * dockerd with --icc=false so containers on it cannot reach each other (`hermes-admin doctor` warns otherwise).
       */
      FLEET_CONTAINER_NETWORK: z.string().min(1).default("bridge"),
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
      /** Scheduled backups per plan into ops/backups/ (service/backup-schedule.ts). */
      FLEET_BACKUP_SCHEDULE: z.enum(["on", "off"]).default("on"),
      /** Hibernation (service/idle-policy.ts): idle profiles sleep and wake on their next request. */
      FLEET_HIBERNATE: z.enum(["on", "off"]).default("on"),
      /** Replaces every plan's idle time (0: never sleep); unset: the plan's own (basic 30 min, pro 2 h). */
      FLEET_IDLE_AFTER_MS: z.coerce.number().int().min(0).optional(),
      FLEET_IDLE_SWEEP_MS: z.coerce.number().int().min(100).default(30_000),
      /** Warm pool (workload/pool.ts): prefab runtimes kept started with no profile, taken by spawns (0: none). */
      FLEET_POOL_SIZE: z.coerce.number().int().min(0).max(32).default(2),
      /** Swarm placement: at most this many profiles on one node (0: no cap). */
      FLEET_NODE_MAX_PROFILES: z.coerce.number().int().min(0).default(0),
      LOG_LEVEL: z.string().default("info"),
    })
    .refine((c) => c.FLEET_MCP_UID < c.FLEET_UID_RANGE.low || c.FLEET_MCP_UID > c.FLEET_UID_RANGE.high, {
      message: "FLEET_MCP_UID must be outside FLEET_UID_RANGE (the data service is not a tenant)",
      path: ["FLEET_MCP_UID"],
    })
    .refine((c) => c.FLEET_GATEWAY_UID < c.FLEET_UID_RANGE.low || c.FLEET_GATEWAY_UID > c.FLEET_UID_RANGE.high, {
      message: "FLEET_GATEWAY_UID must be outside FLEET_UID_RANGE (the model gateway is not a tenant)",
      path: ["FLEET_GATEWAY_UID"],
    })
    .transform((c) => {
      const files = daemonFilePaths(c) as NonNullable<ReturnType<typeof daemonFilePaths>>; // FLEET_PID_FILE min(1) above
      const ops = files.opsDir;
      return {
        appDir: APP_DIR,
        opsDir: ops,
        profilesRoot: resolve(c.FLEET_PROFILES_ROOT ?? join(ops, "profiles")),
        skillsDir: resolve(c.FLEET_SKILLS_DIR ?? join(ops, "skills")),
        logDir: resolve(c.FLEET_LOG_DIR ?? join(ops, "logs")),
        dbUrl: c.FLEET_DB_URL ?? `sqlite:${join(ops, "profiles.db")}`,
        templateDir: resolve(c.FLEET_TEMPLATE_DIR),
        adminTokenFile: files.adminTokenFile,
        pidFile: files.pidFile,
        api: { host: c.FLEET_API_HOST, port: c.FLEET_API_PORT, publicUrl: c.FLEET_PUBLIC_URL },
        ports: c.FLEET_PORT_RANGE,
        uids: c.FLEET_UID_RANGE,
        mcp: {
          urlPrefab: c.FLEET_MCP_URL_PREFAB,
          urlContainer: c.FLEET_MCP_URL_CONTAINER,
          urlRemote: c.FLEET_MCP_URL_REMOTE,
          dataDir: resolve(c.FLEET_MCP_DATA_DIR ?? join(ops, "mcp")),
          container: c.FLEET_MCP_CONTAINER,
          hostPort: c.FLEET_MCP_HOST_PORT,
          uid: c.FLEET_MCP_UID,
          socketDir: resolve(c.FLEET_MCP_SOCKET_DIR ?? join(ops, "mcp-run")),
        },
        model: {
          provider: c.FLEET_MODEL_PROVIDER,
          baseUrl: c.FLEET_MODEL_BASE_URL,
          default: c.FLEET_MODEL_DEFAULT,
          route: c.FLEET_MODEL_ROUTE,
        },
        gateway: {
          dataDir: resolve(c.FLEET_GATEWAY_DATA_DIR ?? join(ops, "gateway")),
          port: c.FLEET_GATEWAY_PORT,
          uid: c.FLEET_GATEWAY_UID,
          urlPrefab: `http://127.0.0.1:${c.FLEET_GATEWAY_PORT}/v1`,
          urlContainer: c.FLEET_GATEWAY_URL_CONTAINER ?? "",
        },
        image: c.FLEET_IMAGE,
        containerNetwork: c.FLEET_CONTAINER_NETWORK,
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
        backupSchedule: c.FLEET_BACKUP_SCHEDULE === "on",
        nodeMaxProfiles: c.FLEET_NODE_MAX_PROFILES,
        poolSize: c.FLEET_POOL_SIZE,
        hibernate: { on: c.FLEET_HIBERNATE === "on", idleAfterMs: c.FLEET_IDLE_AFTER_MS, sweepMs: c.FLEET_IDLE_SWEEP_MS },
        logLevel: c.LOG_LEVEL,
      };
    });

let built: ReturnType<typeof schema> | undefined;

export type FleetConfig = z.output<ReturnType<typeof schema>>;

export function fleetConfig(env: NodeJS.ProcessEnv = process.env): FleetConfig {
  built ??= schema();
  return loadConfig("fleet", built, env);
}
