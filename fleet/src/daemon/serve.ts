/**
 * `hermes-admin serve`: the fleet daemon. Opens the registry, picks the drivers this host has, re-adopts what runs,
 * supervises, and serves the admin API and the front door on loopback. On SIGTERM it stops supervising and leaves the
 * profiles running (a restarted daemon adopts them).
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "@twilight/core";
import { type FleetConfig, fleetConfig } from "../config.js";
import { fleetMetrics } from "../metrics.js";
import { McpTokenFile } from "../profiles/mcp-tokens.js";
import { openRegistry } from "../registry/index.js";
import { limitsForPlan } from "../runtime/container-spec.js";
import { connectDockerDriver, type DockerDriver } from "../runtime/docker.js";
import { Drivers } from "../runtime/index.js";
import { ProcessDriver } from "../runtime/process.js";
import type { RuntimeDriver } from "../runtime/types.js";
import { type FleetContext, KeyedMutex } from "../service/context.js";
import { Migrator } from "../service/migrate.js";
import { ProfileService } from "../service/profiles.js";
import { Supervisor } from "../supervisor/supervisor.js";
import { ensureAdminToken } from "./admin-token.js";
import { buildApi, handleFrontDoor } from "./api.js";
import { FrontDoor } from "./frontdoor.js";
import { platformRoutes } from "./platform-api.js";
import { installSkills } from "./skills.js";

export interface Daemon {
  ctx: FleetContext;
  profiles: ProfileService;
  supervisor: Supervisor;
  frontDoor: FrontDoor;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export interface DaemonOptions {
  cfg?: FleetConfig;
  log?: Logger;
  /** Extra drivers (the container tier), keyed by tier. */
  containerDriver?: () => Promise<RuntimeDriver | undefined>;
  processCommand?: ConstructorParameters<typeof ProcessDriver>[0]["command"];
}

export async function startDaemon(o: DaemonOptions = {}): Promise<Daemon> {
  const cfg = o.cfg ?? fleetConfig();
  const log = o.log ?? createLogger("fleet", { level: cfg.logLevel });
  for (const d of [cfg.opsDir, cfg.profilesRoot, cfg.logDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  await installSkills(cfg);
  const registry = await openRegistry(cfg.dbUrl);
  await registry.migrate();
  const processDriver = new ProcessDriver({
    appDir: cfg.appDir,
    log: log.child({ driver: "process" }),
    logs: cfg.logs,
    command: o.processCommand,
  });
  const containerDriver =
    o.containerDriver ??
    (() =>
      connectDockerDriver({ log: log.child({ driver: "docker" }), image: cfg.image, limitsFor: (s) => limitsForPlan(s.plan) }));
  const docker = await containerDriver().catch((err) => {
    log.warn({ err: (err as Error).message }, "container tier unavailable on this host");
    return undefined;
  });
  const drivers = new Drivers({ prefab: processDriver, ...(docker ? { container: docker } : {}) });
  const ctx: FleetContext = { cfg, registry, drivers, tokens: new McpTokenFile(cfg.mcp.dataDir), log, now: Date.now };
  const mutex = new KeyedMutex();
  const supervisor = new Supervisor(ctx, mutex);
  const profiles = new ProfileService(ctx, mutex, supervisor);
  const metrics = fleetMetrics();
  const frontDoor = new FrontDoor({
    log,
    resolve: async (name) => {
      const row = await registry.get(name);
      return row && (row.status === "running" || row.status === "starting" || row.status === "migrating") ? row.port : undefined;
    },
    onRequest: (profile, status, seconds, heldMs) => {
      metrics.frontDoor.observe({ profile, status: String(status) }, seconds);
      if (heldMs > 0) metrics.held.observe({ profile }, heldMs / 1000);
    },
  });
  const adminToken = ensureAdminToken(cfg.adminTokenFile);
  let url = "";
  const migrator = new Migrator(ctx, mutex, supervisor, profiles, frontDoor);
  const api = buildApi({
    ctx,
    profiles,
    migrator,
    frontDoor,
    metrics,
    adminToken,
    log,
    publicUrl: () => cfg.api.publicUrl ?? url,
    extraRoutes: (r, auth) => platformRoutes(r, auth, { ctx, log, docker: docker as DockerDriver | undefined }),
  });
  const server = createServer((req, res) => {
    void (async () => {
      if (await handleFrontDoor(frontDoor, req, res)) return;
      await api.handle(req, res, log);
      metrics.apiRequests.inc({
        method: req.method ?? "",
        route: (req.url ?? "").split("/").slice(0, 3).join("/"),
        status: String(res.statusCode),
      });
    })();
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.api.port, cfg.api.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  url = `http://${cfg.api.host}:${addr.port}`;
  const booted = await supervisor.boot();
  log.info({ url, ...booted, drivers: drivers.all().map((d) => d.kind) }, "fleet daemon ready");
  supervisor.startLoops();
  writeFileSync(cfg.pidFile, `${JSON.stringify({ pid: process.pid, url })}\n`, { mode: 0o600 });
  return {
    ctx,
    profiles,
    supervisor,
    frontDoor,
    server,
    url,
    async close() {
      supervisor.close();
      processDriver.detachAll();
      (docker as { close?: () => void } | undefined)?.close?.();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await registry.close();
      rmSync(cfg.pidFile, { force: true });
    },
  };
}

/** Run until SIGTERM/SIGINT. */
export async function serveForever(o: DaemonOptions = {}): Promise<void> {
  const d = await startDaemon(o);
  const stop = async (sig: string) => {
    d.ctx.log.info({ sig }, "fleet daemon stopping; profiles keep running");
    await d.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}
