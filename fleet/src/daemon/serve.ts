/**
 * `hermes-admin serve`: the fleet daemon. Opens the registry, picks the drivers this host has, serves the admin API and
 * the front door on loopback, and, while it leads (leadership.ts: always on SQLite; the holder of the leader lock on
 * PostgreSQL), re-adopts what runs and supervises. A standby serves reads and the front door and takes over when the
 * leader dies. On SIGTERM it stops supervising and leaves the profiles running (a restarted daemon adopts them).
 */
import { mkdirSync, realpathSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createLogger, type Logger, Router, requireBearer } from "@twilight/core";
import { type FleetConfig, fleetConfig } from "../config.js";
import { GatewayService, networkGatewayAddress } from "../gateway-service/index.js";
import { projectVersion } from "../images/refs.js";
import { ensureAdminToken, removePidFile, writePidFile } from "../lib/daemon-files.js";
import {
  apiRouteLabel,
  fleetMetrics,
  recordFrontDoor,
  recordHeld,
  recordLeadership,
  recordSleep,
  recordWake,
} from "../metrics.js";
import { GatewayKeyFile } from "../profiles/gateway-keys.js";
import { McpTokenFile } from "../profiles/mcp-tokens.js";
import { leaderLockFor, openRegistry } from "../registry/index.js";
import { limitsForPlan } from "../runtime/container-spec.js";
import { connectDockerDriver, type DockerDriver } from "../runtime/docker.js";
import { Drivers } from "../runtime/index.js";
import { MountNamespaces } from "../runtime/private-tmp.js";
import { ProcessDriver } from "../runtime/process.js";
import { CgroupSandbox } from "../runtime/sandbox.js";
import { connectSwarmDriver, type SwarmDriver } from "../runtime/swarm.js";
import { ProfileAccess } from "../service/access.js";
import { BackupService } from "../service/backup.js";
import { Hibernation } from "../service/hibernate.js";
import { Migrator } from "../service/migrate.js";
import { Mover } from "../service/move.js";
import { ProfileService } from "../service/profiles.js";
import { reconcileAtStart } from "../service/reconcile.js";
import { UpgradeService } from "../service/upgrade.js";
import { Supervisor } from "../supervisor/supervisor.js";
import { type FleetContext, KeyedMutex } from "../workload/context.js";
import { WarmPool } from "../workload/pool.js";
import { endpointOf } from "../workload/workloads.js";
import { handleFrontDoor, profileHandlers, profileView } from "./api.js";
import { day2Handlers } from "./day2-api.js";
import { FrontDoor } from "./frontdoor.js";
import { EXIT_LOST_LEADERSHIP, Leadership } from "./leadership.js";
import { type Authenticator, mountRoutes } from "./mount.js";
import { prometheusPaths, startObserver } from "./observe.js";
import { mcpServiceOf, platformHandlers, platformWarnings } from "./platform-api.js";
import { ProvisionKeys } from "./provision-keys.js";
import { installSkills } from "./skills.js";
import { swarmHandlers } from "./swarm-api.js";
import { Dashboard } from "./ui.js";

export interface Daemon {
  ctx: FleetContext;
  profiles: ProfileService;
  supervisor: Supervisor;
  leadership: Leadership;
  frontDoor: FrontDoor;
  dashboard: Dashboard;
  server: Server;
  url: string;
  close(): Promise<void>;
}

export interface DaemonOptions {
  cfg?: FleetConfig;
  log?: Logger;
  /** Extra drivers (the container tier), keyed by tier. */
  containerDriver?: () => Promise<DockerDriver | undefined>;
  processCommand?: ConstructorParameters<typeof ProcessDriver>[0]["command"];
  /** Leadership lost (leadership.ts); default: exit, so that a process supervisor restarts this daemon as the standby. */
  onLostLeadership?: (why: string) => void;
}

export async function startDaemon(o: DaemonOptions = {}): Promise<Daemon> {
  const cfg = o.cfg ?? fleetConfig();
  const log = o.log ?? createLogger("fleet", { level: cfg.logLevel });
  for (const d of [cfg.opsDir, cfg.profilesRoot, cfg.logDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  await installSkills(cfg);
  const registry = await openRegistry(cfg.dbUrl);
  await registry.migrate();
  const sandbox = new CgroupSandbox();
  const privateTmp = await MountNamespaces.open(undefined, [
    ...[cfg.opsDir, cfg.profilesRoot, cfg.logDir, cfg.appDir, cfg.mcp.socketDir].map(realOrSelf),
    realOrSelf(process.execPath),
  ]);
  const sandboxLine = `${sandbox.describe()}; ${privateTmp.reason}`;
  log.info({ sandbox: sandboxLine }, "prefab sandbox");
  const processDriver = new ProcessDriver({
    sandbox,
    privateTmp,
    appDir: cfg.appDir,
    log: log.child({ driver: "process" }),
    logs: cfg.logs,
    command: o.processCommand,
  });
  // container profiles mount the data service's socket directory: it exists before the data service first runs (which
  // then takes it over: mcp-service/index.ts), or their containers could not be created
  mkdirSync(cfg.mcp.socketDir, { recursive: true, mode: 0o755 });
  const containerDriver =
    o.containerDriver ??
    (() =>
      connectDockerDriver({
        log: log.child({ driver: "docker" }),
        image: cfg.image,
        network: cfg.containerNetwork,
        dataSocketDir: cfg.mcp.socketDir,
        limitsFor: (s) => limitsForPlan(s.plan),
      }));
  const docker = await containerDriver().catch((err) => {
    log.warn({ err: (err as Error).message }, "container tier unavailable on this host");
    return undefined;
  });
  // container profiles reach the model gateway at their network's gateway address (it listens there too; swarm tasks,
  // on `twilight`, reach the same host address through their own bridge)
  if (!cfg.gateway.urlContainer && docker) {
    const ip = await networkGatewayAddress(docker.docker, cfg.containerNetwork).catch(() => undefined);
    if (ip) cfg.gateway.urlContainer = `http://${ip}:${cfg.gateway.port}/v1`;
  }
  const gateway = new GatewayService({
    appDir: cfg.appDir,
    dataDir: cfg.gateway.dataDir,
    logDir: cfg.logDir,
    port: cfg.gateway.port,
    uid: cfg.gateway.uid,
    docker: docker?.docker,
    networks: [...new Set([cfg.containerNetwork, "twilight"])],
    env: process.env,
    log: log.child({ component: "gateway-service" }),
  });
  const drivers = new Drivers({ prefab: processDriver, ...(docker ? { container: docker } : {}) });
  // the swarm tier runs when this host's engine is a swarm manager (now, or after `hermes-admin swarm init`)
  const connectSwarmTier = async () => {
    if (!docker) return undefined;
    if (drivers.has("swarm")) return drivers.for("swarm") as SwarmDriver;
    const swarm = await connectSwarmDriver({
      docker: docker.docker,
      image: cfg.image,
      limitsFor: (s) => limitsForPlan(s.plan),
      attach: [cfg.mcp.container],
      log: log.child({ driver: "swarm" }),
    });
    drivers.add("swarm", swarm);
    return swarm;
  };
  await connectSwarmTier().catch((err: Error) => log.info({ reason: err.message }, "swarm tier not available on this host"));
  const ctx: FleetContext = {
    cfg,
    registry,
    drivers,
    tokens: new McpTokenFile(cfg.mcp.dataDir, { uid: cfg.mcp.uid, gid: cfg.mcp.uid }),
    modelKeys: new GatewayKeyFile(
      cfg.gateway.dataDir,
      process.getuid?.() === 0 ? { uid: cfg.gateway.uid, gid: cfg.gateway.uid } : undefined,
    ),
    log,
    now: Date.now,
  };
  const mutex = new KeyedMutex();
  const metrics = fleetMetrics({ opsDir: cfg.opsDir });
  let url = "";
  let takeover: () => Promise<void> = async () => {};
  const leadership = new Leadership({
    openLock: leaderLockFor(cfg.dbUrl),
    url: () => cfg.api.publicUrl ?? url,
    takeover: () => takeover(),
    lost:
      o.onLostLeadership ??
      ((why) => {
        // never two supervisors: a daemon that may have lost the lock stops now (leadership.ts: why exit, not step down)
        log.fatal({ why }, "no longer the leader: exiting (a process supervisor restarts this daemon as the standby)");
        removePidFile(cfg.pidFile);
        process.exit(EXIT_LOST_LEADERSHIP);
      }),
    changed: (role) => {
      recordLeadership(metrics, role === "leader");
      log.info({ role }, "fleet role");
    },
    log: log.child({ part: "leadership" }),
  });
  const observer = startObserver({
    ctx,
    metrics,
    log,
    fleetAddress: () => new URL(url).host,
    leads: () => leadership.role() !== "standby",
  });
  const supervisor = new Supervisor(ctx, mutex, observer.hooks);
  const profiles = new ProfileService(ctx, mutex, supervisor);
  const poolAbility = drivers.has("prefab") ? drivers.for("prefab").capabilities.pool : undefined;
  const pool =
    poolAbility && cfg.poolSize > 0
      ? new WarmPool(ctx, poolAbility, {
          size: cfg.poolSize,
          takenUids: () => profiles.takenUids(),
          onChange: (s) => {
            metrics.poolRuntimes.set({ state: "ready" }, s.ready);
            metrics.poolRuntimes.set({ state: "starting" }, s.starting);
            metrics.poolSpawns.set({ source: "pool" }, s.served);
            metrics.poolSpawns.set({ source: "cold" }, s.missed);
          },
        })
      : null;
  profiles.usePool(pool);
  const frontDoor = new FrontDoor({
    log,
    resolve: async (name) => {
      const row = await registry.get(name);
      if (!row) return { unknown: true };
      if (row.status === "sleeping" || hibernation.isWaking(name)) return { sleeping: true };
      if (row.status !== "running" && row.status !== "starting" && row.status !== "migrating") return { down: row.status };
      const ep = await endpointOf(ctx, row);
      return ep.owner === undefined ? { port: ep.port, host: ep.host } : { port: ep.port, owner: ep.owner };
    },
    wake: async (name) => {
      // only the leader starts anything: a standby answers 503 + Retry-After (not naming the leader's admin address)
      leadership.assertLeader({ anonymous: true });
      await hibernation.wake(name, "front-door", "request");
    },
    onRequest: (profile, status, seconds, heldMs) => {
      recordFrontDoor(metrics, profile, status, seconds, heldMs);
      recordHeld(metrics, profile, frontDoor.heldCount(profile));
    },
  });
  const adminToken = ensureAdminToken(cfg.adminTokenFile);
  const dashboard = new Dashboard({ adminToken, registry, log: log.child({ part: "ui" }) });
  const migrator = new Migrator(ctx, mutex, supervisor, profiles, frontDoor);
  const mover = new Mover(ctx, mutex, supervisor, profiles, frontDoor);
  const hibernation = new Hibernation(ctx, mutex, supervisor, profiles, frontDoor, {
    slept: (tier, reason) => recordSleep(metrics, tier, reason),
    woke: (tier, ok, seconds) => recordWake(metrics, tier, ok, seconds),
  });
  const router = new Router();
  // the admin token, or the dashboard's session cookie (plus its CSRF token on anything but GET)
  const admin: Authenticator = (req) => {
    if (!req.headers.authorization) {
      const ui = dashboard.sessionAuth(req);
      if (ui) return ui;
    }
    requireBearer(req, adminToken);
    return "api";
  };
  const provisionKeys = new ProvisionKeys(join(cfg.opsDir, "provision-keys.json"));
  // provisioning routes: the admin token, or billing's HMAC credential (which is good for nothing else)
  const provision: Authenticator = async (req, raw) => {
    if (/^Bearer\s/i.test(String(req.headers.authorization ?? ""))) return admin(req, raw);
    try {
      return await provisionKeys.verify(req, raw);
    } catch (e) {
      log.warn({ reason: (e as { reason?: string }).reason, url: req.url }, "provisioning request refused");
      throw e;
    }
  };
  const backups = new BackupService(ctx, mutex, profiles);
  mountRoutes(
    router,
    {
      ...profileHandlers({
        ctx,
        profiles,
        access: new ProfileAccess(ctx, profiles),
        migrator,
        mover,
        hibernation,
        metrics,
        log,
        publicUrl: () => cfg.api.publicUrl ?? url,
        version: await projectVersion(),
        role: () => leadership.role(),
        ...(pool ? { pool: () => pool.status() } : {}),
        sandbox: sandboxLine,
        dependencies: () => platformWarnings({ ctx, docker, gateway }),
        provisionKeys,
        fleetText: observer.fleetText,
        prometheus: async (fleetAddress) => {
          const p = prometheusPaths(cfg);
          return { files: await observer.bundle(fleetAddress), token_file: p.tokenFile, targets_file: p.targetsFile };
        },
      }),
      ...platformHandlers({ ctx, log, docker, gateway, sandbox: sandboxLine }),
      ...swarmHandlers({ ctx, docker, connectTier: connectSwarmTier }),
      ...day2Handlers({
        backups,
        upgrades: new UpgradeService(ctx, profiles, frontDoor),
        view: (row) => profileView(row, cfg.api.publicUrl ?? url),
      }),
    },
    { admin, provision },
    log,
    { beforeChange: () => leadership.assertLeader() },
  );
  const api = router;
  const server = createServer((req, res) => {
    void (async () => {
      if (await observer.scrape(req, res)) return;
      if (await dashboard.handle(req, res)) return;
      if (await handleFrontDoor(frontDoor, req, res)) return;
      res.setHeader("x-twilight-role", leadership.role());
      await api.handle(req, res, log);
      metrics.apiRequests.inc({ method: req.method ?? "", route: apiRouteLabel(req.url ?? ""), status: String(res.statusCode) });
      // the file_sd file follows the fleet: every change of a profile goes through a non-GET admin route
      if (req.method !== "GET") void observer.refreshTargets().catch((err) => log.warn({ err }, "file_sd refresh failed"));
    })().catch((err) => {
      log.error({ err, url: req.url?.split("?")[0] }, "request failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end("internal error\n");
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.api.port, cfg.api.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  url = `http://${cfg.api.host}:${addr.port}`;
  // CPU/memory for `list`, sampled in the background (one sweep at a time) so a list never waits for Docker stats
  let statsTick: NodeJS.Timeout | undefined;
  let closing = false;
  const sampleStats = () => {
    void profiles
      .sampleStats()
      .catch((err: Error) => log.debug({ err: err.message }, "stats sweep failed"))
      .finally(() => {
        if (!closing) statsTick = setTimeout(sampleStats, 10_000).unref();
      });
  };
  // scheduled backups per plan (service/backup-schedule.ts): a tick every 10 minutes, the first a minute after start
  let backupTick: NodeJS.Timeout | undefined;
  const tick = () => {
    void backups
      .scheduled()
      .then((r) => {
        if (r.backed_up.length || r.pruned.length || r.failed.length) log.info({ backups: r }, "scheduled backups");
      })
      .catch((err: Error) => log.warn({ err: err.message }, "scheduled backups failed"))
      .finally(() => {
        backupTick = setTimeout(tick, 10 * 60_000).unref();
      });
  };
  // hibernation (service/idle-policy.ts): one idle round at a time
  let idleTick: NodeJS.Timeout | undefined;
  const idleRound = () => {
    void hibernation
      .sweep(cfg.hibernate.idleAfterMs)
      .then((slept) => {
        if (slept.length) log.info({ slept }, "idle profiles put to sleep");
      })
      .catch((err: Error) => log.warn({ err: err.message }, "idle round failed"))
      .finally(() => {
        if (!closing) idleTick = setTimeout(idleRound, cfg.hibernate.sweepMs).unref();
      });
  };
  // the data service as a swarm service: a task the swarm restarted is a new container, off the local bridge where
  // container profiles reach it by name; the leader puts it back every few seconds (nothing to do in container mode)
  let bridgeTick: NodeJS.Timeout | undefined;
  const bridgeRound = () => {
    const mcp = docker ? mcpServiceOf(ctx, docker) : undefined;
    void (mcp?.ensureBridge() ?? Promise.resolve(false))
      .then((joined) => {
        if (joined) log.warn("data service task restarted: put back on the container network");
      })
      .catch((err: Error) => log.debug({ err: err.message }, "data service bridge check failed"))
      .finally(() => {
        if (!closing) bridgeTick = setTimeout(bridgeRound, 5_000).unref();
      });
  };
  // the takeover path, the leader's alone: a daemon that starts as the leader and a standby that wins the lock later
  // run exactly this (what a dead leader left mid-spawn or mid-migration is repaired first; then boot adopts what runs
  // and starts only what does not)
  takeover = async () => {
    const reconciled = await reconcileAtStart(ctx, (row, tier) => profiles.renderInput(row, tier));
    if (Object.values(reconciled).some((v) => v.length))
      log.warn({ reconciled }, "reconciled what a previous daemon left behind");
    hibernation.watchFromNow();
    const booted = await supervisor.boot();
    log.info({ ...booted }, "leading the fleet");
    supervisor.startLoops();
    if (pool) {
      const swept = await pool.sweep();
      if (swept) log.info({ swept }, "warm pool: killed the pooled runtimes a previous daemon left");
      void pool.fill();
    }
    await observer.refreshTargets();
    if (cfg.backupSchedule) backupTick = setTimeout(tick, 60_000).unref();
    if (cfg.hibernate.on) idleTick = setTimeout(idleRound, cfg.hibernate.sweepMs).unref();
    if (docker) bridgeTick = setTimeout(bridgeRound, 5_000).unref();
  };
  const role = await leadership.start();
  log.info({ url, dashboard: `${url}/ui/`, role, drivers: drivers.all().map((d) => d.kind) }, "fleet daemon ready");
  sampleStats();
  writePidFile(cfg.pidFile, { pid: process.pid, url });
  return {
    ctx,
    profiles,
    supervisor,
    leadership,
    frontDoor,
    dashboard,
    server,
    url,
    async close() {
      clearTimeout(backupTick);
      clearTimeout(idleTick);
      clearTimeout(bridgeTick);
      closing = true;
      clearTimeout(statsTick);
      supervisor.close();
      await pool?.close();
      observer.close();
      dashboard.close();
      for (const d of drivers.all()) {
        d.capabilities.detach?.detachAll();
        d.capabilities.close?.();
      }
      await leadership.close(); // supervision has stopped: the lock may go (a standby takes over within a second)
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await registry.close();
      removePidFile(cfg.pidFile);
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

/** The real path of `p` (a /tmp behind a link counts as /tmp), or `p` itself when it does not exist yet. */
function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
