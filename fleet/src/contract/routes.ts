/**
 * The admin API's route table: each route declares its method, path, auth, and the schemas of its path parameters,
 * query, body and answer. The daemon mounts handlers from this table (auth is applied by the mount, so it cannot be
 * forgotten), the CLI client calls routes from it, and `/v1/openapi.json` is generated from it.
 */
import { z } from "zod/v4";
import * as D from "./day2-schemas.js";
import * as S from "./schemas.js";

export { pathOf } from "./path.js";

/**
 * - `json`: one JSON answer.
 * - `op`: a long operation; one JSON answer, or with `Accept: application/x-ndjson` `{progress}` lines then `{result}`.
 * - `text`: a text answer (`contentType`).
 * - `ndjson`: a stream of `frame` lines (exec).
 * - `stream`: a text stream, line by line (logs).
 */
export type RouteKind = "json" | "op" | "text" | "ndjson" | "stream";
/** `none`: open; `admin`: the admin bearer token; `provision`: the admin token or a provisioning credential (HMAC). */
export type RouteAuth = "none" | "admin" | "provision";
export type Method = "GET" | "PUT" | "POST" | "DELETE";

export interface RouteDef<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType | undefined = z.ZodType | undefined,
  R extends z.ZodType = z.ZodType,
  K extends RouteKind = RouteKind,
> {
  method: Method;
  path: string;
  summary: string;
  auth: RouteAuth;
  kind: K;
  params: P;
  query: Q;
  body: B;
  response: R;
  /** Status codes of a successful answer (the first is the usual one). */
  ok: number[];
  contentType?: string;
  /** Request headers the route reads (documented). */
  headers?: Record<string, string>;
  tag: "profiles" | "platform" | "daemon";
}

const NoParams = z.object({});
const NameParam = z.object({ name: S.ProfileName });
const NoQuery = z.object({});

function route<
  K extends RouteKind,
  R extends z.ZodType,
  P extends z.ZodType = typeof NoParams,
  Q extends z.ZodType = typeof NoQuery,
  B extends z.ZodType | undefined = undefined,
>(
  d: Omit<RouteDef<P, Q, B, R, K>, "params" | "query" | "body" | "ok"> & {
    params?: P;
    query?: Q;
    body?: B;
    ok?: number[];
  },
): RouteDef<P, Q, B, R, K> {
  return {
    ...d,
    params: (d.params ?? NoParams) as P,
    query: (d.query ?? NoQuery) as Q,
    body: d.body as B,
    ok: d.ok ?? [200],
  };
}

const TEXT = "text/plain; charset=utf-8";

export const ROUTES = {
  daemonHealth: route({
    method: "GET",
    path: "/v1/health",
    summary: "Is the fleet daemon up",
    auth: "none",
    kind: "json",
    response: S.DaemonHealth,
    tag: "daemon",
  }),
  openapi: route({
    method: "GET",
    path: "/v1/openapi.json",
    summary: "This API, as an OpenAPI 3.1 document",
    auth: "none",
    kind: "json",
    response: z.record(z.string(), z.unknown()),
    tag: "daemon",
  }),
  metrics: route({
    method: "GET",
    path: "/metrics",
    summary: "The fleet's Prometheus metrics",
    auth: "admin",
    kind: "text",
    contentType: "text/plain; version=0.0.4; charset=utf-8",
    response: z.string(),
    tag: "daemon",
  }),
  listProfiles: route({
    method: "GET",
    path: "/v1/profiles",
    summary: "All profiles with their runtime state (stats=1 adds a CPU/memory sample)",
    auth: "admin",
    kind: "json",
    query: S.StatsQuery,
    response: S.ProfileList,
    tag: "profiles",
  }),
  getProfile: route({
    method: "GET",
    path: "/v1/profiles/:name",
    summary: "One profile with its runtime state",
    auth: "admin",
    kind: "json",
    params: NameParam,
    response: S.ProfileWithRuntime,
    tag: "profiles",
  }),
  spawnProfile: route({
    method: "PUT",
    path: "/v1/profiles/:name",
    summary: "Create a profile from the template, start it and wait until healthy (idempotent by Idempotency-Key)",
    auth: "provision",
    kind: "op",
    params: NameParam,
    body: S.SpawnRequest,
    response: S.SpawnResult,
    ok: [201, 200],
    headers: { "idempotency-key": "the same key returns the existing profile (billing: the order id)" },
    tag: "profiles",
  }),
  startProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/start",
    summary: "Start a stopped profile",
    auth: "admin",
    kind: "op",
    params: NameParam,
    response: S.ProfileView,
    tag: "profiles",
  }),
  stopProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/stop",
    summary: "Stop a profile (it stays stopped until started)",
    auth: "admin",
    kind: "op",
    params: NameParam,
    response: S.ProfileView,
    tag: "profiles",
  }),
  sleepProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/sleep",
    summary: "Put a running profile to sleep (hibernate: its workload stops, its state stays; the next request wakes it)",
    auth: "admin",
    kind: "op",
    params: NameParam,
    response: S.ProfileView,
    tag: "profiles",
  }),
  wakeProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/wake",
    summary: "Wake a sleeping profile and wait until it answers (a request through the front door does the same)",
    auth: "admin",
    kind: "op",
    params: NameParam,
    response: S.ProfileView,
    tag: "profiles",
  }),
  restartProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/restart",
    summary: "Restart a profile",
    auth: "admin",
    kind: "op",
    params: NameParam,
    response: S.ProfileView,
    tag: "profiles",
  }),
  migrateProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/migrate",
    summary: "Move a profile to another tier while in use (requests are held for the handover)",
    auth: "admin",
    kind: "op",
    params: NameParam,
    body: S.MigrateRequest,
    response: S.MigrateResult,
    tag: "profiles",
  }),
  moveProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/move",
    summary: "Move a swarm profile and its directory to another node while in use (requests are held for the handover)",
    auth: "admin",
    kind: "op",
    params: NameParam,
    body: S.MoveRequest,
    response: S.MoveResult,
    tag: "profiles",
  }),
  removeProfile: route({
    method: "DELETE",
    path: "/v1/profiles/:name",
    summary: "Remove a profile (force=1 stops it first; purge=1 deletes its directory)",
    auth: "admin",
    kind: "json",
    params: NameParam,
    query: S.RemoveQuery,
    response: S.RemoveResult,
    tag: "profiles",
  }),
  listArchives: route({
    method: "GET",
    path: "/v1/archives",
    summary: "Kept directories of removed profiles (root-only until purged)",
    auth: "admin",
    kind: "json",
    response: S.ArchiveList,
    tag: "profiles",
  }),
  purgeArchive: route({
    method: "DELETE",
    path: "/v1/archives/:archive",
    summary: "Delete a removed profile's kept directory for good",
    auth: "admin",
    kind: "json",
    params: z.object({ archive: S.ArchiveName }),
    response: S.PurgeResult,
    tag: "profiles",
  }),
  profileHealth: route({
    method: "GET",
    path: "/v1/profiles/:name/health",
    summary: "Probe a profile's /health now",
    auth: "admin",
    kind: "json",
    params: NameParam,
    response: S.ProfileHealth,
    tag: "profiles",
  }),
  profileLogs: route({
    method: "GET",
    path: "/v1/profiles/:name/logs",
    summary: "A profile's console log (tail=N last lines, follow=1 keeps streaming)",
    auth: "admin",
    kind: "stream",
    contentType: TEXT,
    params: NameParam,
    query: S.LogsQuery,
    response: z.string(),
    tag: "profiles",
  }),
  execProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/exec",
    summary: "Run a command as the profile's uid, in its directory, with its environment (NDJSON frames)",
    auth: "admin",
    kind: "ndjson",
    params: NameParam,
    body: S.ExecRequest,
    response: S.ExecFrame,
    tag: "profiles",
  }),
  rotateSecrets: route({
    method: "POST",
    path: "/v1/profiles/:name/rotate-key",
    summary: "Give a profile new generated keys (model gateway key, user API key); restarts it when it runs",
    auth: "admin",
    kind: "op",
    params: NameParam,
    body: S.RotateRequest,
    response: S.RotateResult,
    tag: "profiles",
  }),
  askProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/ask",
    summary: "Ask a running profile a question through its own API, as its user would (the operator's smoke test)",
    auth: "admin",
    kind: "json",
    params: NameParam,
    body: S.AskRequest,
    response: S.AskResult,
    tag: "profiles",
  }),
  profileUnit: route({
    method: "GET",
    path: "/v1/profiles/:name/unit",
    summary: "The equivalent systemd unit",
    auth: "admin",
    kind: "text",
    contentType: TEXT,
    params: NameParam,
    response: z.string(),
    tag: "profiles",
  }),
  profileCompose: route({
    method: "GET",
    path: "/v1/profiles/:name/compose",
    summary: "The equivalent compose service (container tier)",
    auth: "admin",
    kind: "text",
    contentType: "text/yaml; charset=utf-8",
    params: NameParam,
    response: z.string(),
    tag: "profiles",
  }),
  events: route({
    method: "GET",
    path: "/v1/events",
    summary: "The audit trail, newest first",
    auth: "admin",
    kind: "json",
    query: S.EventsQuery,
    response: S.EventList,
    tag: "profiles",
  }),
  prometheusConfig: route({
    method: "GET",
    path: "/v1/prometheus/config",
    summary: "The scrape config for an existing Prometheus: prometheus.yml and the alert rules (file_sd + scrape token)",
    auth: "admin",
    kind: "json",
    query: S.PrometheusConfigQuery,
    response: S.PrometheusBundle,
    tag: "platform",
  }),
  createProvisionKey: route({
    method: "POST",
    path: "/v1/provision-keys",
    summary: "A provisioning credential for billing (HMAC): it can create profiles and nothing else; the secret is shown once",
    auth: "admin",
    kind: "json",
    body: S.ProvisionKeyRequest,
    response: S.ProvisionKey,
    tag: "daemon",
  }),
  buildImages: route({
    method: "POST",
    path: "/v1/images/build",
    summary: "Build the base, profile and data-service images from this host (no registry)",
    auth: "admin",
    kind: "op",
    body: S.BuildRequest,
    response: S.BuildReport,
    tag: "platform",
  }),
  mcpUp: route({
    method: "POST",
    path: "/v1/mcp/up",
    summary: "Start the data service container; with wait_seeded_ms, wait for its first backfill (progress per step)",
    auth: "admin",
    kind: "op",
    body: S.McpUpRequest,
    response: S.McpStatus,
    tag: "platform",
  }),
  mcpDown: route({
    method: "POST",
    path: "/v1/mcp/down",
    summary: "Stop and remove the data service container",
    auth: "admin",
    kind: "json",
    response: S.McpDown,
    tag: "platform",
  }),
  mcpStatus: route({
    method: "GET",
    path: "/v1/mcp/status",
    summary: "The data service container and its /health",
    auth: "admin",
    kind: "json",
    response: S.McpStatus,
    tag: "platform",
  }),
  gatewayUp: route({
    method: "POST",
    path: "/v1/gateway/up",
    summary: "Start the model gateway (idempotent); with an upstream URL and key, (re)write its secret file first",
    auth: "admin",
    kind: "op",
    body: S.GatewayUpRequest,
    response: S.GatewayStatus,
    tag: "platform",
  }),
  gatewayDown: route({
    method: "POST",
    path: "/v1/gateway/down",
    summary: "Stop the model gateway (its keys, usage and secret file are kept)",
    auth: "admin",
    kind: "json",
    response: S.GatewayDown,
    tag: "platform",
  }),
  gatewayStatus: route({
    method: "GET",
    path: "/v1/gateway/status",
    summary: "The model gateway process, its /health and how many virtual keys it holds",
    auth: "admin",
    kind: "json",
    response: S.GatewayStatus,
    tag: "platform",
  }),
  usage: route({
    method: "GET",
    path: "/v1/usage",
    summary: "Model usage (tokens, spend, refusals) per profile per UTC day, from the model gateway",
    auth: "admin",
    kind: "json",
    query: S.UsageQuery,
    response: S.UsageList,
    tag: "platform",
  }),
  rotateCiteKey: route({
    method: "POST",
    path: "/v1/mcp/rotate-key",
    summary: "Rotate the data service's cite signing key and pin the new key set into every profile (no restarts)",
    auth: "admin",
    kind: "op",
    body: S.RotateKeyRequest,
    response: S.RotateKeyResult,
    tag: "platform",
  }),
  orphans: route({
    method: "GET",
    path: "/v1/orphans",
    summary: "Containers with our labels and no registry row",
    auth: "admin",
    kind: "json",
    response: S.OrphanList,
    tag: "platform",
  }),
  removeOrphans: route({
    method: "POST",
    path: "/v1/orphans/remove",
    summary: "Remove the orphaned containers (labels re-checked on the engine)",
    auth: "admin",
    kind: "json",
    response: S.OrphanRemoval,
    tag: "platform",
  }),
  backupProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/backup",
    summary: "An encrypted, authenticated archive of a profile: state.db (online snapshot), files, secrets, manifest",
    auth: "admin",
    kind: "op",
    params: NameParam,
    body: D.BackupRequest,
    response: D.BackupResult,
    tag: "profiles",
  }),
  exportProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/export",
    summary: "Back a profile up for another fleet, then stop and fence it here (it refuses to start until unfenced)",
    auth: "admin",
    kind: "op",
    params: NameParam,
    body: D.ExportRequest,
    response: D.ExportResult,
    tag: "profiles",
  }),
  unfenceProfile: route({
    method: "POST",
    path: "/v1/profiles/:name/unfence",
    summary: "Let an exported profile start on this host again",
    auth: "admin",
    kind: "json",
    params: NameParam,
    response: D.UnfenceResult,
    tag: "profiles",
  }),
  restoreProfile: route({
    method: "POST",
    path: "/v1/restore",
    summary: "Restore (or import) a profile from an archive, under its own or a new name, on either tier",
    auth: "admin",
    kind: "op",
    body: D.RestoreRequest,
    response: D.RestoreResult,
    ok: [201],
    tag: "profiles",
  }),
  listBackups: route({
    method: "GET",
    path: "/v1/backups",
    summary: "Archives in ops/backups/, newest first (profile=NAME for one profile)",
    auth: "admin",
    kind: "json",
    query: D.BackupsQuery,
    response: D.BackupList,
    tag: "profiles",
  }),
  backupKey: route({
    method: "GET",
    path: "/v1/backup-key",
    summary: "This fleet's backup recipient (created on first use)",
    auth: "admin",
    kind: "json",
    response: D.BackupKeyInfo,
    tag: "daemon",
  }),
  upgradeFleet: route({
    method: "POST",
    path: "/v1/upgrade",
    summary:
      "Move every container profile to a runtime version, canaries first, each gated (health + a query); roll back on failure",
    auth: "admin",
    kind: "op",
    body: D.UpgradeRequest,
    response: D.UpgradeResult,
    tag: "platform",
  }),
  rolloutStatus: route({
    method: "GET",
    path: "/v1/rollout",
    summary: "The runtime rollout in progress (and the last one finished)",
    auth: "admin",
    kind: "json",
    response: D.RolloutStatus,
    tag: "platform",
  }),
  rolloutResume: route({
    method: "POST",
    path: "/v1/rollout/resume",
    summary: "Go on with a rollout paused at a failed gate: the failed profiles first, then the rest",
    auth: "admin",
    kind: "op",
    response: D.UpgradeResult,
    tag: "platform",
  }),
  rolloutAbort: route({
    method: "POST",
    path: "/v1/rollout/abort",
    summary: "Stop the rollout in progress (or the paused one) and roll back the profiles it switched",
    auth: "admin",
    kind: "json",
    response: D.RolloutAbort,
    tag: "platform",
  }),
  swarmStatus: route({
    method: "GET",
    path: "/v1/swarm",
    summary: "The swarm this host's engine is in, and whether the fleet runs the swarm tier",
    auth: "admin",
    kind: "json",
    response: S.SwarmStatus,
    tag: "platform",
  }),
  swarmInit: route({
    method: "POST",
    path: "/v1/swarm/init",
    summary: "Make this host's engine a swarm manager (idempotent), label it, and start the swarm tier",
    auth: "admin",
    kind: "op",
    body: S.SwarmInitRequest,
    response: S.SwarmStatus,
    tag: "platform",
  }),
  swarmJoinToken: route({
    method: "GET",
    path: "/v1/swarm/join-token",
    summary: "The tokens and the command that join another host to this swarm (secret: the worker token admits a node)",
    auth: "admin",
    kind: "json",
    response: S.SwarmJoinToken,
    tag: "platform",
  }),
  listNodes: route({
    method: "GET",
    path: "/v1/nodes",
    summary: "Swarm nodes: labels, state, memory, and the swarm profiles on each",
    auth: "admin",
    kind: "json",
    response: S.NodeList,
    tag: "platform",
  }),
  doctor: route({
    method: "GET",
    path: "/v1/doctor",
    summary: "The daemon's side of `hermes-admin doctor`: Docker, registry, rows, orphans, data service, images, ports",
    auth: "admin",
    kind: "json",
    response: S.DoctorReport,
    tag: "daemon",
  }),
} as const;
// (checked here, not with `satisfies`, which would widen each route's inferred schema types)
const _everyRouteIsARouteDef: Readonly<Record<string, RouteDef>> = ROUTES;
void _everyRouteIsARouteDef;

export type Routes = typeof ROUTES;
export type RouteId = keyof Routes;
export type ParamsOf<R extends RouteDef> = z.infer<R["params"]>;
export type QueryOf<R extends RouteDef> = z.infer<R["query"]>;
export type BodyOf<R extends RouteDef> = R["body"] extends z.ZodType ? z.infer<R["body"]> : undefined;
export type ResponseOf<R extends RouteDef> = z.infer<R["response"]>;

/** `/v1/profiles/:name` + {name: "a"} -> `/v1/profiles/a` (each parameter URI-encoded). */
