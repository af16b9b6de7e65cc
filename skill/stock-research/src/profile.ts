/**
 * What the skill needs from the profile it runs in (HERMES_HOME): the data service URL and headers (the profile's own
 * token), the trusted cite keys, and the profile's name. Same rules as the agent: `.env` under the process environment,
 * `${VAR}` in config.yaml resolved from both. Values are never printed.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ConfigInvalid, parseEnv } from "@twilight/core";
import { parse as parseYaml } from "yaml";
import { z } from "zod";

const KeyShape = z.object({ key_id: z.string(), alg: z.literal("Ed25519"), x: z.string() });

const SkillConfig = z
  .object({
    mcp_servers: z
      .record(
        z
          .object({
            url: z.string().url(),
            socket: z.preprocess((v) => (v === "" || v === null ? undefined : v), z.string().startsWith("/").optional()),
            headers: z.record(z.string()).default({}),
            timeout: z.coerce.number().positive().default(30),
            enabled: z.boolean().default(true),
          })
          .passthrough(),
      )
      .default({}),
    cite: z
      .object({
        keys_url: z.preprocess((v) => (v === "" || v === null ? undefined : v), z.string().optional()),
        keys_file: z.preprocess((v) => (v === "" || v === null ? undefined : v), z.string().optional()),
        trusted_keys: z.array(KeyShape).optional(),
        max_age_seconds: z.coerce.number().positive().default(600),
      })
      .passthrough()
      .default({}),
    twilight: z.object({ profile: z.string().optional() }).passthrough().default({}),
  })
  .passthrough();

export interface SkillProfile {
  home: string;
  profile: string;
  server: string;
  url: string;
  /** Unix socket of the data service (config `mcp_servers.<name>.socket`); when set, `url` gives only path and Host. */
  socket: string | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
  /** Informational only: keys are never fetched (see client.ts trustedKeys). */
  keysUrl: string | undefined;
  /** The pinned keys file, absolute (relative paths in config.yaml resolve against HERMES_HOME). */
  keysFile: string | undefined;
  trustedKeys: z.infer<typeof KeyShape>[];
  maxAgeMs: number;
}

function resolveVars(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === "string") return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, n: string) => env[n] ?? "");
  if (Array.isArray(value)) return value.map((v) => resolveVars(v, env));
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveVars(v, env)]));
  return value;
}

/** Read the profile at HERMES_HOME (default: cwd). `server` picks an mcp_servers entry (default: tushare, else the first). */
export function loadSkillProfile(processEnv: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): SkillProfile {
  const home = resolve(processEnv.HERMES_HOME || cwd);
  const envPath = join(home, ".env");
  const cfgPath = join(home, "config.yaml");
  if (!existsSync(cfgPath))
    throw new ConfigInvalid(`no config.yaml in ${home}`, {
      hint: "run inside a profile (hermes-admin exec <name> -- ...) or set HERMES_HOME",
    });
  let fileEnv: Record<string, string> = {};
  try {
    if (existsSync(envPath)) fileEnv = parseEnv(readFileSync(envPath, "utf8"));
  } catch (e) {
    throw new ConfigInvalid(`cannot read ${envPath}: ${(e as Error).message}`, { hint: "run as the profile's own user" });
  }
  const env: Record<string, string> = { ...fileEnv };
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined) env[k] = v;
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(cfgPath, "utf8")) ?? {};
  } catch (e) {
    throw new ConfigInvalid(`config.yaml is not readable YAML: ${(e as Error).message}`);
  }
  const r = SkillConfig.safeParse(resolveVars(raw, env));
  if (!r.success)
    throw new ConfigInvalid(`config.yaml: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  const cfg = r.data;
  const profile = cfg.twilight.profile ?? env.HERMES_PROFILE;
  if (!profile) throw new ConfigInvalid("profile name unknown: set twilight.profile in config.yaml or HERMES_PROFILE in .env");
  const wanted = env.TWILIGHT_MCP_SERVER;
  const entries = Object.entries(cfg.mcp_servers).filter(([, s]) => s.enabled);
  const chosen =
    (wanted ? entries.find(([n]) => n === wanted) : undefined) ?? entries.find(([n]) => n === "tushare") ?? entries[0];
  if (!chosen)
    throw new ConfigInvalid("config.yaml has no enabled mcp_servers entry", { hint: "the data service must be configured" });
  const [server, s] = chosen;
  return {
    home,
    profile,
    server,
    url: s.url,
    socket: s.socket,
    headers: s.headers,
    timeoutMs: s.timeout * 1000,
    keysUrl: cfg.cite.keys_url,
    keysFile: cfg.cite.keys_file ? resolve(home, cfg.cite.keys_file) : undefined,
    trustedKeys: cfg.cite.trusted_keys ?? [],
    maxAgeMs: cfg.cite.max_age_seconds * 1000,
  };
}
