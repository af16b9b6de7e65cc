/**
 * The admin API's shapes, once: every request and response body of `/v1/...` as zod schemas (zod 4, so the OpenAPI
 * document is generated from the same objects). The daemon parses requests with them, the CLI client parses responses
 * with them, and a test proves that what the daemon sends parses.
 */
import { PROFILE_NAME_MAX, TIERS } from "@twilight/core/names";
import { PLANS } from "@twilight/core/plans";
import { z } from "zod/v4";

export const Tier = z.enum(TIERS);
export const ProfileName = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/)
  .max(PROFILE_NAME_MAX)
  .describe("a DNS label, 1-40 characters");
export const ProfileStatus = z.enum(["creating", "starting", "running", "stopped", "error", "migrating", "sleeping"]);
const Timestamp = z.string().describe("ISO 8601");

/** A registry row as the API shows it (never a secret: only the secrets' fingerprint). */
export const ProfileView = z.lazy(() =>
  z.object({
    id: z.string(),
    name: z.string(),
    tier: Tier,
    user_id: z.string().nullable(),
    status: ProfileStatus,
    desired_state: z.enum(["running", "stopped"]),
    pid: z.number().int().nullable().describe("prefab: the supervised process"),
    container_id: z.string().nullable().describe("container: the Docker container id"),
    profile_path: z.string(),
    node: z.string().nullable().describe("swarm: the node holding the profile's directory; null: the fleet's own host"),
    port: z.number().int(),
    uid: z.number().int(),
    gid: z.number().int(),
    generation: z.number().int(),
    image: z.string().nullable(),
    plan: z.string().nullable(),
    order_id: z.string().nullable(),
    restart_count: z.number().int(),
    last_error: z.string().nullable(),
    secrets_fingerprint: z.string(),
    created_at: Timestamp,
    updated_at: Timestamp,
    last_health_check: Timestamp.nullable(),
    last_started_at: Timestamp.nullable(),
    status_url: z.string(),
    api_base: z.string(),
  }),
);
export type ProfileView = z.infer<typeof ProfileView>;

export const RuntimeView = z.lazy(() =>
  z.object({
    running: z.boolean(),
    uptime_s: z.number().nullable(),
    cpu_percent: z.number().nullable(),
    memory_bytes: z.number().nullable(),
    stats_age_s: z
      .number()
      .nullable()
      .optional()
      .describe("how old cpu_percent/memory_bytes are (list reads the daemon's background sample; null: none yet)"),
  }),
);
export const ProfileWithRuntime = z.lazy(() => ProfileView.unwrap().extend({ runtime: RuntimeView }));
export type ProfileWithRuntime = z.infer<typeof ProfileWithRuntime>;
export const ProfileList = z.lazy(() => z.object({ profiles: z.array(ProfileWithRuntime) }));

export const NodeName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i)
  .describe("a swarm node's fleet name (its io.twilight.node label)");
export const SpawnRequest = z.lazy(() =>
  z.strictObject({
    tier: Tier,
    plan: z.enum(PLANS).nullish().describe("a billing plan (closed set)"),
    user_id: z.string().max(128).nullish(),
    set: z.record(z.string(), z.string()).optional().describe("supplied secrets declared in secrets.schema.json"),
    node: NodeName.nullish().describe("swarm: the node to hold the profile; unset: the one with the most free memory"),
  }),
);
export type SpawnRequest = z.infer<typeof SpawnRequest>;

export const Connection = z.lazy(() =>
  z.object({
    status_url: z.string(),
    api_base: z.string(),
    api_key: z.string().describe("where the key is (never the key itself)"),
    session_header: z.string(),
    direct_port: z.number().int(),
  }),
);
export const DependencyWarning = z.lazy(() =>
  z.object({
    service: z.enum(["data-service", "model-gateway"]),
    message: z.string(),
    hint: z.string().describe("the command that fixes it"),
  }),
);
export const SpawnResult = z.lazy(() =>
  z.object({
    created: z.boolean(),
    profile: ProfileView,
    connection: Connection,
    warnings: z
      .array(DependencyWarning)
      .optional()
      .describe("platform services the profile depends on that are down now (the profile was still created)"),
  }),
);

export const MigrateRequest = z.lazy(() =>
  z.strictObject({
    to: Tier,
    health_timeout_ms: z.number().int().min(1).max(600_000).optional(),
    drain_timeout_ms: z.number().int().min(0).max(600_000).optional(),
  }),
);
export const MigrateResult = z.lazy(() =>
  z.object({
    profile: z.string(),
    from: Tier,
    to: Tier,
    outcome: z.enum(["migrated", "noop", "retiered-stopped", "rolled-back"]),
    generation: z.number().int(),
    held_ms: z.number(),
    pause_ms: z.number(),
    total_ms: z.number(),
    steps: z.array(z.object({ step: z.string(), ms: z.number() })),
    message: z.string(),
  }),
);

export const MoveRequest = z.lazy(() =>
  z.strictObject({
    node: NodeName,
    from_lost_node: z
      .boolean()
      .optional()
      .describe("the source node is down for good: fence its task, copy the directory from where the fleet reaches it"),
    drain_timeout_ms: z.number().int().min(0).max(600_000).optional(),
  }),
);
export const MoveResult = z.lazy(() =>
  z.object({
    profile: z.string(),
    from_node: z.string(),
    to_node: z.string(),
    outcome: z.enum(["moved", "noop", "moved-stopped", "recovered"]),
    generation: z.number().int(),
    path: z.string().describe("the profile directory on the new node"),
    kept: z.string().nullable().describe("the old directory, kept root-only on the old node until purged"),
    held_ms: z.number(),
    pause_ms: z.number(),
    total_ms: z.number(),
    copied: z.object({ files: z.number(), bytes: z.number(), final_files: z.number(), final_bytes: z.number() }),
    steps: z.array(z.object({ step: z.string(), ms: z.number() })),
    message: z.string(),
  }),
);

export const RemoveQuery = z.lazy(() => z.object({ force: z.enum(["0", "1"]).optional(), purge: z.enum(["0", "1"]).optional() }));
export const RemoveResult = z.lazy(() =>
  z.object({
    removed: z.string(),
    purged: z.boolean(),
    archive: z.string().optional().describe("the kept directory, root-only: purge it with DELETE /v1/archives/{archive}"),
  }),
);
export const ArchiveName = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?@\d{8}T\d{6}Z$/)
  .describe("<profile>@<UTC stamp>");
export const ArchiveList = z.lazy(() =>
  z.object({
    archives: z.array(
      z.object({
        name: z.string(),
        profile: z.string(),
        removed_at: z.string(),
        root: z.string().describe("the profiles root it is under (the fleet's, or a swarm node's)"),
      }),
    ),
  }),
);
export const PurgeResult = z.lazy(() => z.object({ purged: z.string() }));

export const HealthProbe = z.lazy(() =>
  z.object({
    ok: z.boolean(),
    status: z.string().optional(),
    httpStatus: z.number().int().optional(),
    latencyMs: z.number(),
    error: z.string().optional(),
    body: z.record(z.string(), z.unknown()).optional(),
  }),
);
export const ProfileHealth = z.lazy(() =>
  z.object({
    name: z.string(),
    tier: Tier,
    status: ProfileStatus,
    healthy: z.boolean(),
    probe: HealthProbe,
    last_error: z.string().nullable(),
  }),
);

export const LogsQuery = z.lazy(() =>
  z.object({
    follow: z.enum(["0", "1"]).optional(),
    tail: z.coerce.number().int().min(0).max(100_000).optional(),
  }),
);
export const ExecRequest = z.lazy(() => z.strictObject({ argv: z.array(z.string()).min(1).max(256) }));
/** One NDJSON line of an exec stream: output frames (base64), then the exit code. */
export const ExecFrame = z.lazy(() =>
  z.union([z.object({ s: z.enum(["o", "e"]), d: z.string() }), z.object({ exit: z.number().int() })]),
);

export const RotateRequest = z.lazy(() =>
  z.strictObject({
    which: z
      .array(z.enum(["model", "api"]))
      .min(1)
      .describe("model: the virtual key at the model gateway (SILICONFLOW_API_KEY); api: the user's key (API_SERVER_KEY)"),
  }),
);
export const RotateResult = z.lazy(() =>
  z.object({
    profile: ProfileView,
    rotated: z.array(z.string()).describe("the .env keys given new values (the values are never returned)"),
    restarted: z.boolean(),
  }),
);
export const AskRequest = z.lazy(() =>
  z.strictObject({
    question: z.string().min(1).max(4000),
    session_id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,128}$/)
      .optional()
      .describe("continue this conversation"),
  }),
);
export const AskResult = z.lazy(() =>
  z.object({
    profile: z.string(),
    session_id: z.string(),
    answer: z.string().describe("the profile's answer, with its verified sources section"),
    citations: z.array(
      z.object({
        ref: z.number().int(),
        source: z.string(),
        api: z.string(),
        as_of: z.string(),
        request_id: z.string(),
      }),
    ),
    model: z.string(),
    ms: z.number(),
  }),
);

export const EventsQuery = z.lazy(() =>
  z.object({
    profile: z.string().max(64).optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  }),
);
export const ProfileEvent = z.lazy(() =>
  z.object({
    id: z.number().int(),
    profile: z.string(),
    at: Timestamp,
    actor: z.string(),
    action: z.string(),
    result: z.enum(["ok", "error", "info"]),
    detail: z.record(z.string(), z.unknown()),
  }),
);
export const EventList = z.lazy(() => z.object({ events: z.array(ProfileEvent) }));

export const ProvisionKeyRequest = z.lazy(() => z.strictObject({ key_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/) }));
export const ProvisionKey = z.lazy(() => z.object({ key_id: z.string(), secret: z.string().describe("shown once") }));

export const DaemonHealth = z.lazy(() =>
  z.object({
    status: z.literal("ok"),
    pid: z.number().int(),
    sandbox: z.string().describe("what the prefab sandbox enforces on this host"),
    containers: z.boolean().optional().describe("whether the daemon has a Docker connection (made once, at its start)"),
    role: z
      .enum(["leader", "standby", "taking-over"])
      .optional()
      .describe("leader: supervises and accepts changes; standby: reads and the front door only (PostgreSQL registry)"),
    pool: z
      .object({
        size: z.number().int(),
        ready: z.number().int(),
        starting: z.number().int(),
        served: z.number().int().describe("prefab spawns given a pooled runtime since the daemon started"),
        missed: z.number().int().describe("prefab spawns that found the pool empty and started cold"),
        lastError: z.string().optional(),
      })
      .optional()
      .describe("the warm pool of prefab runtimes (FLEET_POOL_SIZE; absent when 0 or not leading)"),
  }),
);
export const StatsQuery = z.lazy(() => z.object({ stats: z.enum(["0", "1"]).optional() }));

export const BuildRequest = z.lazy(() =>
  z.strictObject({
    force: z.boolean().optional(),
    only: z.array(z.enum(["profile", "mcp"])).optional(),
  }),
);
export const BuildReport = z.lazy(() =>
  z.object({
    version: z.string(),
    nodeVersion: z.string(),
    images: z.array(
      z.object({
        kind: z.enum(["base", "profile", "mcp", "fleet"]),
        ref: z.string(),
        id: z.string(),
        sizeBytes: z.number(),
        contentHash: z.string(),
        skipped: z.boolean(),
        seconds: z.number(),
      }),
    ),
    seconds: z.number(),
  }),
);

export const McpStatus = z.lazy(() =>
  z.object({
    name: z.string(),
    mode: z.enum(["container", "swarm"]).optional(),
    exists: z.boolean(),
    running: z.boolean(),
    containerId: z.string().optional(),
    image: z.string().optional(),
    startedAt: z.string().optional(),
    url: z.string(),
    health: z
      .object({
        ok: z.boolean(),
        httpStatus: z.number().int().optional(),
        status: z.string().optional(),
        error: z.string().optional(),
        seeding: z
          .object({
            state: z.enum(["seeding", "ready"]),
            days_done: z.number().int(),
            days_total: z.number().int().nullable(),
            as_of: z.string().nullable(),
          })
          .optional()
          .describe("the warehouse's first backfill: seeding until it completed once"),
        open_days_behind: z.number().int().nullable().optional(),
      })
      .nullable(),
  }),
);
export type McpStatus = z.infer<typeof McpStatus>;
export const McpDown = z.lazy(() => z.object({ stopped: z.boolean() }));
/** `gateway up`: the upstream URL and key when (re)configuring it (written to the gateway's own secret file only). */
export const GatewayUpRequest = z.lazy(() =>
  z.strictObject({
    upstream_base_url: z.string().url().optional(),
    upstream_api_key: z.string().min(1).max(512).optional(),
  }),
);
export const GatewayStatus = z.lazy(() =>
  z.object({
    running: z.boolean(),
    pid: z.number().int().optional(),
    url: z.string(),
    url_container: z.string().optional(),
    health: z.object({ ok: z.boolean(), error: z.string().optional() }).nullable(),
    keys: z.number().int(),
    upstream_configured: z.boolean(),
  }),
);
export const GatewayDown = z.lazy(() => z.object({ stopped: z.boolean() }));
/** The swarm this host's engine is in (the swarm tier's home). */
export const SwarmStatus = z.lazy(() =>
  z.object({
    state: z.string().describe("the engine's LocalNodeState: inactive, pending, active, error, locked"),
    manager: z.boolean(),
    node_id: z.string().optional(),
    node: z.string().optional().describe("this node's io.twilight.node label: what placement and `nodes` call it"),
    tier: z.boolean().describe("whether this fleet runs the swarm tier now"),
    managers: z.number().int().optional(),
    nodes: z.number().int().optional(),
  }),
);
export const SwarmInitRequest = z.lazy(() =>
  z.strictObject({
    advertise_addr: z
      .string()
      .min(1)
      .max(255)
      .optional()
      .describe("address other nodes reach this one at (default: the engine's choice)"),
  }),
);
export const SwarmJoinToken = z.lazy(() =>
  z.object({
    worker: z.string(),
    manager: z.string(),
    addr: z.string().describe("host:port to join at"),
    command: z.string().describe("what to run on the new node"),
  }),
);
export const SwarmNode = z.lazy(() =>
  z.object({
    id: z.string(),
    name: z.string().describe("the io.twilight.node label ('' when the fleet has not labelled it)"),
    hostname: z.string(),
    labels: z.record(z.string(), z.string()).describe("the node's labels (io.twilight.node, io.twilight.profiles-root, ...)"),
    role: z.string(),
    availability: z.string(),
    state: z.string().describe("ready, down, unknown, disconnected"),
    addr: z.string(),
    self: z.boolean(),
    cpus: z.number(),
    memory_bytes: z.number().int(),
    free_bytes: z.number().int().nullable().describe("MemAvailable on this node; null for other nodes"),
    profiles: z.array(z.string()).describe("swarm profiles whose directory this node holds (registry column node)"),
    profile_memory_limit_bytes: z.number().int().describe("sum of the memory limits of those profiles"),
    headroom_bytes: z.number().int().describe("memory minus those limits: what placement ranks nodes by"),
    root: z.string().nullable().describe("the node's profiles root (io.twilight.profiles-root; the fleet's own for this node)"),
    placeable: z.string().nullable().describe("why a new profile cannot go here now (null: it can)"),
  }),
);
export const NodeList = z.lazy(() => z.object({ swarm: SwarmStatus, nodes: z.array(SwarmNode) }));
export const UsageQuery = z.lazy(() =>
  z.object({
    profile: ProfileName.optional(),
    since: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}$/, "since is a UTC day, YYYY-MM-DD")
      .optional(),
  }),
);
/** Model usage per profile per UTC day, metered by the gateway. */
export const UsageList = z.lazy(() =>
  z.object({
    usage: z.array(
      z.object({
        profile: z.string(),
        day: z.string(),
        requests: z.number().int(),
        prompt_tokens: z.number().int(),
        completion_tokens: z.number().int(),
        spend_fen: z.number(),
        limited: z.number().int(),
      }),
    ),
  }),
);
export const McpUpRequest = z.lazy(() =>
  z.strictObject({
    swarm: z
      .boolean()
      .optional()
      .describe("run it as a Swarm service (one writer on this node) instead of a container; needs the swarm tier"),
    wait_seeded_ms: z
      .number()
      .int()
      .min(0)
      .max(3_600_000)
      .optional()
      .describe("wait this long for the first backfill to complete (progress per step); 0: return once /health answers"),
  }),
);
export const RotateKeyRequest = z.lazy(() =>
  z.strictObject({
    grace_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86400)
      .optional()
      .describe("how long the old key still verifies"),
    activate_in_seconds: z.number().int().min(0).max(3600).optional().describe("delay before the new key signs"),
  }),
);
export const RotateKeyResult = z.lazy(() =>
  z.object({
    new_key_id: z.string(),
    retiring_key_id: z.string().nullable(),
    signs_from: z.string(),
    retiring_not_after: z.string().nullable(),
    pinned: z.number().int(),
  }),
);

const ContainerRef = z.object({
  id: z.string(),
  name: z.string(),
  profile: z.string(),
  generation: z.number().int(),
  running: z.boolean(),
});
export const OrphanList = z.lazy(() => z.object({ orphans: z.array(ContainerRef) }));
export const OrphanRemoval = z.lazy(() => z.object({ removed: z.array(ContainerRef) }));

/** One row of `hermes-admin doctor` (fleet/src/lib/doctor-checks.ts makes them). */
export const DoctorCheck = z.lazy(() =>
  z.object({
    id: z.string(),
    status: z.enum(["pass", "warn", "fail"]),
    what: z.string(),
    why: z.string().optional(),
    fix: z.string().optional().describe("the command or step that fixes it"),
  }),
);
export const DoctorReport = z.lazy(() => z.object({ checks: z.array(DoctorCheck) }));

/** The error body every route answers with on failure (codes in core/src/errors.ts). */
export const ErrorBody = z.lazy(() =>
  z.object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      hint: z.string().optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
  }),
);

/** A progress line of a long operation (NDJSON), then `{result}` or `{error}`. */
export const ProgressLine = z.lazy(() => z.object({ step: z.string(), ms: z.number() }).catchall(z.unknown()));
export type ProgressLine = z.infer<typeof ProgressLine>;

export const PrometheusConfigQuery = z.lazy(() =>
  z.object({
    fleet_address: z
      .string()
      .regex(/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/)
      .optional()
      .describe("host:port Prometheus reaches the daemon on (default: the daemon's own address)"),
  }),
);
export const PrometheusBundle = z.lazy(() =>
  z.object({
    files: z
      .array(z.object({ path: z.string(), content: z.string(), mode: z.number().int() }))
      .describe("relative path -> file, to write under --out DIR"),
    token_file: z.string().describe("the scrape token file the daemon keeps (give its group to prometheus)"),
    targets_file: z.string().describe("the file_sd file the daemon keeps current"),
    dashboard_url: z.string(),
  }),
);
