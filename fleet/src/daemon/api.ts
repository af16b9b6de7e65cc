/** The admin API's handlers, one per route of the contract (fleet/src/contract/routes.ts); mounted by mount.ts. */

import type { IncomingMessage, ServerResponse } from "node:http";
import { isProfileName, type Logger } from "@twilight/core";
import { openApiDocument } from "../contract/openapi.js";
import { type FleetMetrics, forgetProfile, recordMigration, recordSpawn } from "../metrics.js";
import type { ProfileRow } from "../registry/types.js";
import type { ProfileAccess } from "../service/access.js";
import type { Hibernation } from "../service/hibernate.js";
import type { Migrator } from "../service/migrate.js";
import type { Mover } from "../service/move.js";
import type { ProfileService } from "../service/profiles.js";
import { audit } from "../workload/audit.js";
import type { FleetContext, Progress } from "../workload/context.js";
import type { PoolStatus } from "../workload/pool.js";
import type { DAY2_ROUTES } from "./day2-api.js";
import type { DependencyWarning } from "./dependencies.js";
import type { FrontDoor } from "./frontdoor.js";
import type { Handlers } from "./mount.js";
import type { ProvisionKeys } from "./provision-keys.js";
import type { SwarmHandlers } from "./swarm-api.js";

export interface ApiDeps {
  ctx: FleetContext;
  profiles: ProfileService;
  access: ProfileAccess;
  migrator: Migrator;
  mover: Mover;
  hibernation: Hibernation;
  metrics: FleetMetrics;
  log: Logger;
  publicUrl: () => string;
  version: string;
  provisionKeys: ProvisionKeys;
  /** The fleet registry's text, per-profile gauges synced with the registry (observe.ts). */
  fleetText: () => Promise<{ contentType: string; body: string }>;
  /** The Prometheus bundle for `hermes-admin prometheus config` (observe.ts). */
  prometheus: (fleetAddress: string) => Promise<{
    files: Array<{ path: string; content: string; mode: number }>;
    token_file: string;
    targets_file: string;
  }>;
  /** What the prefab sandbox enforces on this host (cgroups or rlimits only). */
  sandbox: string;
  /** The warm pool's state (workload/pool.ts), when there is one. */
  pool?: () => PoolStatus;
  /** This daemon's role (leadership.ts). */
  role?: () => "leader" | "standby" | "taking-over";
  /** Platform services a profile depends on that are down now (spawn and start warn; they never fail for it). */
  dependencies?: () => Promise<DependencyWarning[]>;
}

/** Each warning as a progress line (the CLI prints it; `--json` callers also get `warnings` where the result has it). */
async function warnDependencies(d: ApiDeps, progress: Progress): Promise<DependencyWarning[]> {
  const warnings =
    (await d.dependencies?.().catch((e: Error) => {
      d.log.warn({ err: e.message }, "could not check the platform services");
      return [];
    })) ?? [];
  for (const w of warnings) progress("warning", { service: w.service, message: w.message, fix: w.hint });
  return warnings;
}

/** Time a spawn/start and record it (`twilight_profile_spawn_duration_seconds`). */
async function timed<T>(d: ApiDeps, tier: () => string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    const r = await fn();
    recordSpawn(d.metrics, tier(), true, (performance.now() - t0) / 1000);
    return r;
  } catch (e) {
    recordSpawn(d.metrics, tier(), false, (performance.now() - t0) / 1000);
    throw e;
  }
}

export type ProfileHandlers = Omit<
  Handlers,
  | "buildImages"
  | "mcpUp"
  | "mcpDown"
  | "mcpStatus"
  | "rotateCiteKey"
  | "orphans"
  | "removeOrphans"
  | "profileCompose"
  | (typeof DAY2_ROUTES)[number]
  | "gatewayUp"
  | "gatewayDown"
  | "gatewayStatus"
  | "usage"
  | "doctor"
  | keyof SwarmHandlers
>;

/** A row as the API shows it: the driver's opaque handle stays inside the fleet. */
export function profileView(row: ProfileRow, publicUrl: string) {
  const { workload_handle: _handle, ...shown } = row;
  return { ...shown, status_url: `${publicUrl}/p/${row.name}/health`, api_base: `${publicUrl}/p/${row.name}/v1` };
}

export function connectionInfo(row: ProfileRow, publicUrl: string) {
  return {
    status_url: `${publicUrl}/p/${row.name}/health`,
    api_base: `${publicUrl}/p/${row.name}/v1`,
    api_key: `API_SERVER_KEY in ${row.profile_path}/.env (hermes-admin exec ${row.name} -- printenv API_SERVER_KEY)`,
    session_header: "X-Hermes-Session-Id",
    direct_port: row.port,
  };
}

export function profileHandlers(d: ApiDeps): ProfileHandlers {
  const view = (row: ProfileRow) => profileView(row, d.publicUrl());
  let openapi: Record<string, unknown> | undefined;
  return {
    daemonHealth: async () => ({
      status: "ok" as const,
      pid: process.pid,
      sandbox: d.sandbox,
      containers: d.ctx.drivers.has("container"),
      ...(d.role ? { role: d.role() } : {}),
      ...(d.pool ? { pool: d.pool() } : {}),
    }),
    openapi: async () => {
      openapi ??= openApiDocument(d.version);
      return openapi;
    },
    metrics: async ({ res }) => {
      const m = await d.fleetText();
      res.writeHead(200, { "content-type": m.contentType, "cache-control": "no-store" });
      res.end(m.body);
    },
    prometheusConfig: async ({ query }) => {
      const addr = query.fleet_address ?? new URL(d.publicUrl()).host;
      return { ...(await d.prometheus(addr)), dashboard_url: `${d.publicUrl()}/ui/` };
    },
    listProfiles: async ({ query }) => {
      const rows = await d.profiles.list();
      const stats = query.stats === "1" ? "cached" : "none";
      return {
        profiles: await Promise.all(
          rows.map(async (row) => ({ ...view(row), runtime: await d.profiles.runtimeView(row, stats) })),
        ),
      };
    },
    getProfile: async ({ params }) => {
      const row = await d.profiles.get(params.name);
      return { ...view(row), runtime: await d.profiles.runtimeView(row, "live") };
    },
    spawnProfile: {
      run: async ({ req, params, body, actor, progress }) => {
        const key = req.headers["idempotency-key"];
        const out = await timed(
          d,
          () => body.tier ?? "prefab",
          () =>
            d.profiles.spawn(
              {
                name: params.name,
                tier: body.tier,
                plan: body.plan ?? null,
                userId: body.user_id ?? null,
                set: body.set,
                node: body.node ?? null,
                idempotencyKey: typeof key === "string" ? key : null,
                actor,
              },
              progress,
            ),
        );
        const warnings = await warnDependencies(d, progress);
        return {
          created: out.created,
          profile: view(out.profile),
          connection: connectionInfo(out.profile, d.publicUrl()),
          ...(warnings.length ? { warnings } : {}),
        };
      },
      status: (r) => (r.created ? 201 : 200),
    },
    startProfile: async ({ params, actor, progress }) => {
      let tier = "unknown";
      const row = await timed(
        d,
        () => tier,
        async () => {
          tier = (await d.ctx.registry.get(params.name))?.tier ?? tier;
          return d.profiles.start(params.name, actor, progress);
        },
      );
      await warnDependencies(d, progress);
      return view(row);
    },
    stopProfile: async ({ params, actor, progress }) => view(await d.profiles.stop(params.name, actor, progress)),
    restartProfile: async ({ params, actor, progress }) => view(await d.profiles.restart(params.name, actor, progress)),
    sleepProfile: async ({ params, actor, progress }) =>
      view(await d.hibernation.sleep(params.name, actor, "operator", progress)),
    wakeProfile: async ({ params, actor, progress }) => {
      const row = await d.profiles.get(params.name);
      if (row.status !== "sleeping") {
        progress(`not sleeping (${row.status})`);
        return view(row);
      }
      return view(await d.hibernation.wake(params.name, actor, "operator", progress));
    },
    migrateProfile: async ({ params, body, actor, progress }) => {
      const t0 = performance.now();
      const from = (await d.ctx.registry.get(params.name))?.tier ?? "unknown";
      try {
        const r = await d.migrator.migrate(
          params.name,
          { to: body.to, actor, healthTimeoutMs: body.health_timeout_ms, drainTimeoutMs: body.drain_timeout_ms },
          progress,
        );
        const seconds = (performance.now() - t0) / 1000;
        recordMigration(d.metrics, {
          profile: params.name,
          from,
          to: body.to,
          ok: true,
          seconds,
          pauseSeconds: r.pause_ms / 1000,
        });
        return r;
      } catch (e) {
        const seconds = (performance.now() - t0) / 1000;
        recordMigration(d.metrics, { profile: params.name, from, to: body.to, ok: false, seconds, pauseSeconds: 0 });
        throw e;
      }
    },
    moveProfile: ({ params, body, actor, progress }) =>
      d.mover.move(
        params.name,
        { node: body.node, actor, drainTimeoutMs: body.drain_timeout_ms, fromLostNode: body.from_lost_node },
        progress,
      ),
    removeProfile: async ({ params, query, actor }) => {
      const purge = query.purge === "1";
      const r = await d.profiles.remove(params.name, { force: query.force === "1", purge, actor });
      forgetProfile(d.metrics, params.name);
      return { removed: params.name, purged: purge, ...(r.archive ? { archive: r.archive } : {}) };
    },
    listArchives: async () => ({ archives: await d.profiles.archives() }),
    purgeArchive: async ({ params, actor }) => {
      await d.profiles.purgeArchive(params.archive, actor);
      return { purged: params.archive };
    },
    profileHealth: ({ params }) => d.access.health(params.name),
    profileLogs: async ({ req, res, params, query }) => {
      const ac = abortOnClose(req, res);
      const lines = await d.access.logs(params.name, {
        follow: query.follow === "1",
        tail: query.tail ?? 100,
        signal: ac.signal,
      });
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
      for await (const l of lines) {
        if (ac.signal.aborted) break;
        res.write(`${l.line}\n`);
      }
      res.end();
    },
    execProfile: async ({ req, res, params, body, actor }) => {
      const run = await d.access.exec(params.name, body.argv, actor);
      const ac = abortOnClose(req, res);
      res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
      const frame = (s: "o" | "e") => (b: Buffer) => res.write(`${JSON.stringify({ s, d: b.toString("base64") })}\n`);
      const code = await run({ onStdout: frame("o"), onStderr: frame("e"), signal: ac.signal });
      res.end(`${JSON.stringify({ exit: code })}\n`);
    },
    askProfile: async ({ params, body, actor }) => {
      // asking is a request like any other: a sleeping profile wakes for it
      if ((await d.profiles.get(params.name)).status === "sleeping") await d.hibernation.wake(params.name, actor, "request");
      return d.access.ask(params.name, body, actor);
    },
    rotateSecrets: async ({ params, body, actor, progress }) => {
      const r = await d.profiles.rotateSecrets(params.name, body.which, actor, progress);
      return { ...r, profile: view(r.profile) };
    },
    profileUnit: async ({ res, params }) => {
      const unit = await d.access.unit(params.name);
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end(unit);
    },
    createProvisionKey: async ({ body, actor }) => {
      const k = await d.provisionKeys.create(body.key_id);
      await audit(d.ctx, { profile: "fleet", actor, action: "provision-key-create", result: "ok", detail: { key_id: k.key_id } });
      return k;
    },
    events: async ({ query }) => ({
      events: await d.ctx.registry.events({ profile: query.profile, limit: query.limit ?? 50 }),
    }),
  };
}

function abortOnClose(req: IncomingMessage, res: ServerResponse): AbortController {
  const ac = new AbortController();
  req.on("close", () => ac.abort());
  res.on("close", () => ac.abort());
  return ac;
}

/** Front door dispatch: `/p/<profile>/<rest>`. */
export async function handleFrontDoor(fd: FrontDoor, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = req.url ?? "/";
  const m = /^\/p\/([^/]+)(\/.*)?$/.exec(url.split("?")[0] ?? "");
  if (!m || !isProfileName(m[1])) return false;
  const q = url.includes("?") ? url.slice(url.indexOf("?")) : "";
  await fd.handle(m[1] as string, (m[2] ?? "/") + q, req, res);
  return true;
}
