/**
 * `hermes-admin compose <name>`: a Docker Compose document equivalent to a container profile's spec, for an operator who
 * prefers compose. PURE: derived from the very create body the docker driver sends (runtime/container-spec.ts), so the
 * two cannot drift. The engine's own networks (the default bridge, where profiles run by default) are a `network_mode`;
 * a user-defined one (FLEET_CONTAINER_NETWORK, e.g. `twilight`) is declared external (the fleet creates it).
 */
import { Document, isScalar, Scalar } from "yaml";
import { buildContainerSpec, type ContainerCreateBody, type ContainerSpecOptions } from "./runtime/container-spec.js";
import type { WorkloadSpec } from "./runtime/types.js";

export interface ComposeService {
  image: string;
  container_name: string;
  hostname?: string;
  user?: string;
  working_dir?: string;
  entrypoint?: string[];
  environment: Record<string, string>;
  labels: Record<string, string>;
  volumes: Array<{ type: "bind"; source: string; target: string; read_only: boolean }>;
  read_only: boolean;
  tmpfs: string[];
  cap_drop: string[];
  security_opt: string[];
  init?: boolean;
  pids_limit?: number;
  mem_limit?: number;
  memswap_limit?: number;
  cpus?: number;
  logging?: { driver: string; options: Record<string, string> };
  ports: string[];
  /** The engine's own networks: bridge, host, none. */
  network_mode?: string;
  networks: string[];
  healthcheck?: { test: string[]; interval: string; timeout: string; retries: number; start_period: string };
  stop_signal?: string;
  stop_grace_period?: string;
  restart: string;
}

const ENGINE_NETWORKS = new Set(["bridge", "host", "none", "default"]);
const seconds = (ns: number | undefined) => `${Math.round((ns ?? 0) / 1e9)}s`;

/** Map an Engine API create body to a compose service (the fields our specs use). */
export function composeServiceFromBody(b: ContainerCreateBody): ComposeService {
  const h = b.HostConfig ?? {};
  const env: Record<string, string> = {};
  for (const e of b.Env ?? []) {
    const i = e.indexOf("=");
    env[e.slice(0, i)] = e.slice(i + 1);
  }
  const ports: string[] = [];
  for (const [key, binds] of Object.entries(h.PortBindings ?? {}) as Array<
    [string, Array<{ HostIp?: string; HostPort?: string }>]
  >) {
    const [containerPort, proto] = key.split("/");
    for (const p of binds)
      ports.push(`${p.HostIp ? `${p.HostIp}:` : ""}${p.HostPort}:${containerPort}${proto && proto !== "tcp" ? `/${proto}` : ""}`);
  }
  const svc: ComposeService = {
    image: b.Image,
    container_name: b.name,
    ...(b.Hostname ? { hostname: b.Hostname } : {}),
    ...(b.User ? { user: b.User } : {}),
    ...(b.WorkingDir ? { working_dir: b.WorkingDir } : {}),
    environment: env,
    labels: { ...(b.Labels ?? {}) },
    volumes: (h.Mounts ?? []).map((m) => ({
      type: "bind" as const,
      source: m.Source as string,
      target: m.Target,
      read_only: Boolean(m.ReadOnly),
    })),
    read_only: Boolean(h.ReadonlyRootfs),
    tmpfs: Object.entries(h.Tmpfs ?? {}).map(([path, opts]) => (opts ? `${path}:${opts}` : path)),
    cap_drop: h.CapDrop ?? [],
    security_opt: h.SecurityOpt ?? [],
    ...(h.Init !== undefined ? { init: h.Init } : {}),
    ...(h.PidsLimit ? { pids_limit: h.PidsLimit } : {}),
    ...(h.Memory ? { mem_limit: h.Memory } : {}),
    ...(h.MemorySwap ? { memswap_limit: h.MemorySwap } : {}),
    ...(h.NanoCpus ? { cpus: h.NanoCpus / 1e9 } : {}),
    ...(h.LogConfig?.Type ? { logging: { driver: h.LogConfig.Type, options: { ...(h.LogConfig.Config ?? {}) } } } : {}),
    ports,
    ...(h.NetworkMode && ENGINE_NETWORKS.has(h.NetworkMode) ? { network_mode: h.NetworkMode } : {}),
    networks: h.NetworkMode && !ENGINE_NETWORKS.has(h.NetworkMode) ? [h.NetworkMode] : [],
    ...(b.Healthcheck?.Test
      ? {
          healthcheck: {
            test: b.Healthcheck.Test,
            interval: seconds(b.Healthcheck.Interval),
            timeout: seconds(b.Healthcheck.Timeout),
            retries: b.Healthcheck.Retries ?? 3,
            start_period: seconds(b.Healthcheck.StartPeriod),
          },
        }
      : {}),
    ...(b.StopSignal ? { stop_signal: b.StopSignal } : {}),
    ...(b.StopTimeout !== undefined ? { stop_grace_period: `${b.StopTimeout}s` } : {}),
    restart: h.RestartPolicy?.Name || "no",
  };
  return svc;
}

export interface ComposeDocument {
  name?: string;
  services: Record<string, ComposeService>;
  networks: Record<string, { external: true; name: string }>;
}

/** The compose document for one container profile (its service named after the workload). */
export function composeForProfile(spec: WorkloadSpec, opts: ContainerSpecOptions = {}): ComposeDocument {
  const body = buildContainerSpec(spec, opts);
  const svc = composeServiceFromBody(body);
  const networks: ComposeDocument["networks"] = {};
  for (const n of svc.networks) networks[n] = { external: true, name: n };
  return { services: { [body.name]: svc }, networks };
}

/** YAML text of `composeForProfile` (what `hermes-admin compose <name>` prints). YAML 1.1 quoting: `restart: "no"` stays a string. */
export function renderCompose(spec: WorkloadSpec, opts: ContainerSpecOptions = {}): string {
  const header = [
    `# Compose service equivalent to the fleet's container spec for profile ${spec.profile} (generation ${spec.generation}).`,
    '# Generated by `hermes-admin compose`; the fleet (not Docker) restarts profiles, hence restart: "no".',
    "# Secrets are not here: the runtime reads /profile/.env itself.",
  ].join("\n");
  const data = composeForProfile(spec, opts);
  const doc = new Document(data, { version: "1.1" });
  // "uid:gid" could read as a base-60 integer in YAML 1.1 (e.g. 23001:50): always quote it.
  for (const name of Object.keys(data.services)) {
    const user = doc.getIn(["services", name, "user"], true);
    if (isScalar(user)) user.type = Scalar.QUOTE_DOUBLE;
  }
  return `${header}\n${doc.toString({ lineWidth: 0 })}`;
}
