/**
 * Pure renderers for a profile's config.yaml and .env, per tier. The same directory serves both tiers: only what differs
 * between them (the data service URL, the API host) is rendered differently, so migration re-renders config.yaml alone.
 */
import { ConfigInvalid, inContainer, renderEnv, type Tier } from "@twilight/core";

export interface RenderInput {
  profile: string;
  tier: Tier;
  generation: number;
  port: number;
  plan: string | null;
  mcpUrl: string;
  /** prefab: the data service's unix socket (a tenant cannot squat it); container: "" (Docker DNS). */
  mcpSocket: string;
  /** The pinned cite keys file, relative to HERMES_HOME. */
  citeKeysFile: string;
  model: { provider: "offline" | "custom"; baseUrl: string; default: string };
}

/**
 * The model section a profile gets: offline stays offline; `custom` points at the model gateway for the profile's tier
 * (the profile's SILICONFLOW_API_KEY is then its virtual key), unless the operator chose `direct`.
 */
export function modelFor(
  model: { provider: "offline" | "custom"; baseUrl: string; default: string; route?: "gateway" | "direct" },
  gateway: { urlPrefab: string; urlContainer: string },
  tier: Tier,
): RenderInput["model"] {
  const { provider, default: def } = model;
  if (provider !== "custom" || model.route === "direct") return { provider, baseUrl: model.baseUrl, default: def };
  return {
    provider,
    baseUrl: inContainer(tier) && gateway.urlContainer ? gateway.urlContainer : gateway.urlPrefab,
    default: def,
  };
}

/** Port the API server listens on inside a container (published on 127.0.0.1:<profile port> on the host). */
export const CONTAINER_API_PORT = 8642;

function yamlScalar(v: string | number): string {
  if (typeof v === "number") return String(v);
  return /^[A-Za-z0-9_./:@-]+$/.test(v) && !/^(true|false|null|yes|no|on|off|~)$/i.test(v) ? v : JSON.stringify(v);
}

export function renderConfigYaml(template: string, input: RenderInput): string {
  const values: Record<string, string | number> = {
    profile: input.profile,
    tier: input.tier,
    generation: input.generation,
    plan: input.plan ?? "none",
    mcp_url: input.mcpUrl,
    mcp_socket: input.mcpSocket,
    cite_keys_file: input.citeKeysFile,
    model_provider: input.model.provider,
    model_default: input.model.default,
    model_base_url: input.model.baseUrl,
    api_host: inContainer(input.tier) ? "0.0.0.0" : "127.0.0.1",
    port: inContainer(input.tier) ? CONTAINER_API_PORT : input.port,
  };
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_, key: string) => {
    const v = values[key];
    if (v === undefined) throw new ConfigInvalid(`config.yaml.template uses an unknown placeholder {{${key}}}`);
    return yamlScalar(v);
  });
}

/** The profile's .env: generated and supplied secrets plus its identity and API server settings. */
export function renderDotEnv(
  template: string,
  input: { profile: string; port: number; secrets: Record<string, string> },
): string {
  return renderEnv(template, {
    HERMES_PROFILE: input.profile,
    API_SERVER_ENABLED: "true",
    API_SERVER_HOST: "127.0.0.1",
    API_SERVER_PORT: String(input.port),
    ...input.secrets,
  });
}
