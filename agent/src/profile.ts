/**
 * The profile directory (HERMES_HOME): read `.env` and `config.yaml` once at start. Variables already in the process
 * environment win over `.env` values (contract 2 of the brief); `${VAR}` references in config.yaml resolve from the merged
 * environment. Nothing here logs a value: the merged environment holds secrets.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigInvalid, loadConfig, parseEnv } from "@twilight/core";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const blankToUndefined = (v: unknown) => (v === "" || v === null ? undefined : v);

const PublicKeyShape = z.object({ key_id: z.string().min(1), alg: z.literal("Ed25519"), x: z.string().min(1) });

const McpServerShape = z.object({
  url: z.string().url(),
  /** Reach the server through this unix socket instead of `url`'s host and port (the URL still gives path and Host). */
  socket: z.preprocess(blankToUndefined, z.string().startsWith("/", "socket must be an absolute path").optional()),
  headers: z.record(z.string()).default({}),
  timeout: z.coerce.number().positive().default(30),
  connect_timeout: z.coerce.number().positive().default(10),
  enabled: z.boolean().default(true),
  tools: z.object({ include: z.array(z.string()).optional(), exclude: z.array(z.string()).optional() }).optional(),
});
export type McpServerConfig = z.infer<typeof McpServerShape>;

export const ProfileConfigSchema = z
  .object({
    model: z
      .object({
        provider: z.preprocess(blankToUndefined, z.string().default("offline")),
        default: z.preprocess(blankToUndefined, z.string().default("twilight-offline")),
        base_url: z.preprocess(blankToUndefined, z.string().url().optional()),
        api_key: z.preprocess(blankToUndefined, z.string().optional()),
        context_length: z.coerce.number().int().positive().default(32768),
        timeout_seconds: z.coerce.number().positive().default(60),
        max_retries: z.coerce.number().int().min(0).max(10).default(2),
        max_tool_rounds: z.coerce.number().int().min(1).max(20).default(6),
      })
      .passthrough()
      .default({}),
    mcp_servers: z.preprocess((v) => v ?? {}, z.record(McpServerShape)),
    api_server: z
      .object({
        host: z.preprocess(blankToUndefined, z.string().optional()),
        port: z.preprocess(blankToUndefined, z.coerce.number().int().optional()),
      })
      .passthrough()
      .default({}),
    cite: z
      .object({
        /** The pinned keys file (absolute, or relative to HERMES_HOME). The only source of trusted keys besides trusted_keys. */
        keys_file: z.preprocess(blankToUndefined, z.string().optional()),
        /** No longer trusted: keys are never fetched. Accepted (and warned about) so older config.yaml files still load. */
        keys_url: z.preprocess(blankToUndefined, z.string().optional()),
        trusted_keys: z.array(PublicKeyShape).optional(),
        max_age_seconds: z.coerce.number().positive().default(600),
      })
      .passthrough()
      .default({}),
    twilight: z
      .object({
        profile: z.preprocess(blankToUndefined, z.string().optional()),
        tier: z.preprocess(blankToUndefined, z.string().optional()),
        generation: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).default(0)),
        plan: z.preprocess(blankToUndefined, z.string().optional()),
      })
      .passthrough()
      .default({}),
  })
  .passthrough();
export type ProfileConfig = z.infer<typeof ProfileConfigSchema>;

/** Process-level settings (after `.env` merge). */
export const AgentEnvSchema = z.object({
  HERMES_HOME: z.string().min(1),
  HERMES_PROFILE: z.string().optional(),
  API_SERVER_HOST: z.string().optional(),
  API_SERVER_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  API_SERVER_KEY: z.string().min(8, "API_SERVER_KEY must be set (at least 8 characters)"),
  TWILIGHT_STANDBY: z.enum(["0", "1", ""]).optional(),
  AGENT_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(256 * 1024),
  AGENT_SHUTDOWN_GRACE_MS: z.coerce.number().int().positive().default(10_000),
  /** Quiet time after the last request before one full GC gives memory back (idle-gc.ts); 0 turns it off. */
  AGENT_IDLE_GC_MS: z.coerce.number().int().min(0).default(5_000),
});
export type AgentEnv = z.infer<typeof AgentEnvSchema>;

export interface Profile {
  home: string;
  name: string;
  generation: number;
  host: string;
  port: number;
  apiKey: string;
  standby: boolean;
  maxBodyBytes: number;
  shutdownGraceMs: number;
  idleGcMs: number;
  config: ProfileConfig;
  /** Merged environment (process env over `.env`); holds secrets, never log it. */
  env: Record<string, string>;
}

/** `${VAR}` -> value from env; unknown variables become "" and are reported by name (never by value). */
export function resolveVars(value: unknown, env: Record<string, string>, missing: Set<string>): unknown {
  if (typeof value === "string")
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) missing.add(name);
      return v ?? "";
    });
  if (Array.isArray(value)) return value.map((v) => resolveVars(v, env, missing));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveVars(v, env, missing)]));
  return value;
}

/**
 * The profile's secrets: `$HERMES_HOME/.env`, or the file HERMES_ENV_FILE names (the swarm tier delivers them as a
 * Docker secret on tmpfs, /run/secrets/hermes.env, so no secret is ever part of a service spec).
 */
export function readEnvFile(home: string, file?: string): Record<string, string> {
  const p = file || join(home, ".env");
  if (!existsSync(p)) return {};
  return parseEnv(readFileSync(p, "utf8"));
}

export function parseProfileConfig(text: string, env: Record<string, string>): { config: ProfileConfig; missing: string[] } {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (e) {
    throw new ConfigInvalid(`config.yaml is not valid YAML: ${(e as Error).message}`);
  }
  const missing = new Set<string>();
  const resolved = resolveVars(raw, env, missing);
  const r = ProfileConfigSchema.safeParse(resolved);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new ConfigInvalid(`config.yaml: invalid configuration\n${lines.join("\n")}`, {
      hint: "re-render the profile's config.yaml (hermes-admin) or fix the keys above",
    });
  }
  return { config: r.data, missing: [...missing] };
}

/** Load the profile at `processEnv.HERMES_HOME` (default: cwd). Throws ConfigInvalid with a clear message. */
export function loadProfile(processEnv: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Profile & { missing: string[] } {
  const home = resolve(processEnv.HERMES_HOME || cwd);
  const fileEnv = readEnvFile(home, processEnv.HERMES_ENV_FILE);
  const env: Record<string, string> = { ...fileEnv };
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined) env[k] = v;
  env.HERMES_HOME = home;
  const e = loadConfig("agent", AgentEnvSchema, env);
  const cfgPath = join(home, "config.yaml");
  const { config, missing } = existsSync(cfgPath)
    ? parseProfileConfig(readFileSync(cfgPath, "utf8"), env)
    : { config: ProfileConfigSchema.parse({}), missing: [] };
  const name = config.twilight.profile ?? e.HERMES_PROFILE;
  if (!name) throw new ConfigInvalid("profile name unknown: set twilight.profile in config.yaml or HERMES_PROFILE in .env");
  return {
    home,
    name,
    generation: config.twilight.generation,
    host: e.API_SERVER_HOST ?? config.api_server.host ?? "127.0.0.1",
    port: e.API_SERVER_PORT ?? config.api_server.port ?? 8642,
    apiKey: e.API_SERVER_KEY,
    standby: e.TWILIGHT_STANDBY === "1",
    maxBodyBytes: e.AGENT_MAX_BODY_BYTES,
    shutdownGraceMs: e.AGENT_SHUTDOWN_GRACE_MS,
    idleGcMs: e.AGENT_IDLE_GC_MS,
    config,
    env,
    missing,
  };
}
