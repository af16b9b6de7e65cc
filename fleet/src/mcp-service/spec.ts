/**
 * The data service container (`twilight-mcp-tushare` on network `twilight`): a PURE create-body builder, like the
 * profile spec. Prefab profiles reach it on 127.0.0.1:9100 (published on loopback only), container profiles at
 * http://twilight-mcp-tushare:9100/mcp by Docker network DNS.
 *
 * Restart policy: `unless-stopped`. The data service is shared infrastructure that the fleet does not supervise (the
 * fleet supervises profiles); it must come back after a dockerd or host restart even when the fleet daemon is down, and
 * `hermes-admin mcp down` (a stop) keeps it down. Pass restart "no" to opt out.
 */
import { createHash } from "node:crypto";
import { InputInvalid, LABELS, MANAGED_BY } from "@twilight/core";
import { type ContainerCreateBody, SPEC_HASH_LABEL } from "../runtime/container-spec.js";
import { IMAGE_LABEL, NODE_LABEL } from "../runtime/swarm-spec.js";

export const MCP_CONTAINER_NAME = "twilight-mcp-tushare";
export const MCP_PORT = 9100;
export const MCP_DATA_MOUNT = "/data";
/** Where the socket directory is mounted in the container; the socket is `mcp.sock` in it. */
export const MCP_SOCKET_MOUNT = "/run/twilight";
export const MCP_SOCKET_NAME = "mcp.sock";
/** The data service's default uid/gid: its own, never root, never a tenant's. */
export const MCP_DEFAULT_UID = 9100;
export const ROLE_DATA_SERVICE = "data-service";
export { SPEC_HASH_LABEL };

export interface McpSpecOptions {
  image: string;
  /** The image's id, folded into the spec hash so that a rebuilt image under the same tag re-creates the container. */
  imageId?: string;
  /** Host directory with warehouse.duckdb, tokens.json, cite keys, admin-token. */
  dataDir: string;
  name?: string;
  network?: string;
  hostPort?: number;
  /** uid:gid the service runs as (owns dataDir and socketDir); never 0. */
  user: { uid: number; gid: number };
  /** Host directory for the unix socket (0755, owned by `user`), mounted at MCP_SOCKET_MOUNT. */
  socketDir?: string;
  /**
   * Further settings (MCP_WATCH_LIST, TUSHARE_URL, MCP_SCHEDULER, LOG_LEVEL ...). A TUSHARE_TOKEN given here is visible in
   * `docker inspect` of this one container (the service reads its settings from the environment only).
   */
  env?: Record<string, string>;
  restart?: "unless-stopped" | "no";
  memoryBytes?: number;
  pids?: number;
}

const FIXED_ENV = (): Record<string, string> => ({
  MCP_DATA_DIR: MCP_DATA_MOUNT,
  MCP_HOST: "0.0.0.0",
  MCP_PORT: String(MCP_PORT),
  HOME: "/tmp",
});

/** What both the container and the swarm service run: checked options, environment (sorted), host port. */
function checked(o: McpSpecOptions): { env: string[]; hostPort: number; name: string } {
  if (!o.dataDir.startsWith("/")) throw new InputInvalid(`the data dir must be an absolute path: ${JSON.stringify(o.dataDir)}`);
  if (o.user.uid === 0 || o.user.gid === 0) throw new InputInvalid("the data service must not run as root (uid or gid 0)");
  const hostPort = o.hostPort ?? MCP_PORT;
  if (!Number.isInteger(hostPort) || hostPort < 1 || hostPort > 65535) throw new InputInvalid(`bad host port ${hostPort}`);
  for (const k of Object.keys(o.env ?? {}))
    if (k in FIXED_ENV()) throw new InputInvalid(`${k} is set by the fleet for the data service container; do not pass it`);
  const env: Record<string, string> = {
    ...(o.env ?? {}),
    ...FIXED_ENV(),
    ...(o.socketDir ? { MCP_SOCKET_PATH: `${MCP_SOCKET_MOUNT}/${MCP_SOCKET_NAME}` } : {}),
  };
  const sorted = Object.keys(env)
    .sort()
    .map((k) => `${k}=${env[k]}`);
  return { env: sorted, hostPort, name: o.name ?? MCP_CONTAINER_NAME };
}

const binds = (o: McpSpecOptions) => [
  { Type: "bind" as const, Source: o.dataDir, Target: MCP_DATA_MOUNT, ReadOnly: false },
  ...(o.socketDir ? [{ Type: "bind" as const, Source: o.socketDir, Target: MCP_SOCKET_MOUNT, ReadOnly: false }] : []),
];

const hashOf = (imageId: string | undefined, body: unknown) =>
  createHash("sha256")
    .update(`${imageId ?? ""}\n${JSON.stringify(body)}`)
    .digest("hex")
    .slice(0, 16);

export function buildMcpContainerSpec(o: McpSpecOptions): ContainerCreateBody {
  const { env, hostPort, name } = checked(o);
  const portKey = `${MCP_PORT}/tcp`;
  const body: ContainerCreateBody = {
    name,
    Hostname: name,
    Image: o.image,
    User: `${o.user.uid}:${o.user.gid}`,
    WorkingDir: MCP_DATA_MOUNT,
    Env: env,
    Labels: { [LABELS.managedBy]: MANAGED_BY, [LABELS.role]: ROLE_DATA_SERVICE },
    ExposedPorts: { [portKey]: {} },
    StopSignal: "SIGTERM",
    StopTimeout: 20,
    Healthcheck: {
      Test: [
        "CMD",
        "node",
        "-e",
        `fetch('http://127.0.0.1:${MCP_PORT}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
      ],
      Interval: 30_000_000_000,
      Timeout: 5_000_000_000,
      Retries: 3,
      StartPeriod: 60_000_000_000,
    },
    HostConfig: {
      Mounts: binds(o),
      ReadonlyRootfs: true,
      Tmpfs: { "/tmp": "rw,noexec,nosuid,nodev,size=256m,mode=1777" },
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      Privileged: false,
      Init: true,
      PidsLimit: o.pids ?? 512,
      Memory: o.memoryBytes ?? 2 * 1024 * 1024 * 1024,
      LogConfig: { Type: "json-file", Config: { "max-size": "20m", "max-file": "5" } },
      PortBindings: { [portKey]: [{ HostIp: "127.0.0.1", HostPort: String(hostPort) }] },
      NetworkMode: o.network ?? "twilight",
      RestartPolicy: { Name: o.restart ?? "unless-stopped" },
    },
  };
  (body.Labels as Record<string, string>)[SPEC_HASH_LABEL] = hashOf(o.imageId, body);
  return body;
}

/**
 * The data service as a Swarm service (`hermes-admin mcp up --swarm`): ONE writer. The warehouse is one DuckDB file
 * that one process writes, so the service has one replica, placed on the node that holds the data directory, updated
 * stop-first (never two processes on the file); the swarm restarts it (restart policy any). Reads are as consistent as
 * with the container: every reader asks the one writer (read-after-write holds; no replica lag). It is reachable
 * - by name on the attachable overlay (alias = its name) from every node's tasks,
 * - at <node address>:<port> (host-mode publishing: every address of its node) from nodes whose overlay cannot carry it,
 *   and from prefab profiles on 127.0.0.1 / the unix socket on its node,
 * - by name on the local `twilight` bridge (container profiles): the fleet connects the task's container to it.
 * No Docker health check (Swarm would hold the task in `starting` until the first check); /health is the fleet's probe.
 */
export function buildMcpSwarmSpec(o: McpSpecOptions & { imageId: string; node: string; overlay: string }): McpServiceBody {
  const { env, hostPort, name } = checked(o);
  if (!/^[a-z0-9][a-z0-9._-]{0,62}$/i.test(o.node)) throw new InputInvalid(`bad node name ${JSON.stringify(o.node)}`);
  const labels = { [LABELS.managedBy]: MANAGED_BY, [LABELS.role]: ROLE_DATA_SERVICE };
  const body: McpServiceBody = {
    Name: name,
    Labels: { ...labels, [IMAGE_LABEL]: o.image },
    TaskTemplate: {
      ContainerSpec: {
        Image: o.imageId,
        Hostname: name,
        User: `${o.user.uid}:${o.user.gid}`,
        Dir: MCP_DATA_MOUNT,
        Env: env,
        Labels: labels,
        Mounts: [...binds(o), { Type: "tmpfs", Target: "/tmp", TmpfsOptions: { SizeBytes: 256 * 1024 * 1024, Mode: 0o1777 } }],
        ReadOnly: true,
        CapabilityDrop: ["ALL"],
        Privileges: { NoNewPrivileges: true },
        Init: true,
        StopSignal: "SIGTERM",
        StopGracePeriod: 20e9,
        Healthcheck: { Test: ["NONE"] },
      },
      Resources: { Limits: { MemoryBytes: o.memoryBytes ?? 2 * 1024 * 1024 * 1024, Pids: o.pids ?? 512 } },
      RestartPolicy: { Condition: "any", Delay: 1e9 },
      Placement: { Constraints: [`node.labels.${NODE_LABEL}==${o.node}`] },
      Networks: [{ Target: o.overlay, Aliases: [name] }],
      LogDriver: { Name: "json-file", Options: { "max-size": "20m", "max-file": "5" } },
    },
    Mode: { Replicated: { Replicas: 1 } },
    UpdateConfig: { Parallelism: 1, Order: "stop-first", FailureAction: "pause" },
    EndpointSpec: {
      Mode: "dnsrr",
      Ports: [{ Protocol: "tcp", TargetPort: MCP_PORT, PublishedPort: hostPort, PublishMode: "host" }],
    },
  };
  body.Labels[SPEC_HASH_LABEL] = hashOf(o.imageId, body);
  return body;
}

/** The Engine API's ServiceSpec as the data service sends it. */
export interface McpServiceBody {
  Name: string;
  Labels: Record<string, string>;
  TaskTemplate: {
    ContainerSpec: Record<string, unknown> & { Env: string[]; User: string };
    Resources: { Limits: { MemoryBytes: number; Pids: number } };
    RestartPolicy: { Condition: "any"; Delay: number };
    Placement: { Constraints: string[] };
    Networks: Array<{ Target: string; Aliases: string[] }>;
    LogDriver: { Name: string; Options: Record<string, string> };
  };
  Mode: { Replicated: { Replicas: 1 } };
  UpdateConfig: { Parallelism: number; Order: "stop-first"; FailureAction: "pause" };
  EndpointSpec: {
    Mode: "dnsrr";
    Ports: Array<{ Protocol: "tcp"; TargetPort: number; PublishedPort: number; PublishMode: "host" }>;
  };
}
