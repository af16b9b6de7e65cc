/**
 * Assembles the data service: data directory secrets, warehouse, request log, scheduler and the HTTP server.
 * Everything is passed in (clock, logger, Tushare seam), so tests run several services side by side on port 0.
 */

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { ConfigInvalid, createLogger, type Logger, Unavailable } from "@twilight/core";
import { DATA_FILES, ensureAdminToken, ensureDataDir, identify, TokenStore } from "./auth.js";
import { type Clock, systemClock } from "./clock.js";
import { buildRouter } from "./http/routes.js";
import { KeyRing } from "./keys.js";
import { Metrics } from "./metrics.js";
import { RequestLog } from "./requestLog.js";
import { Scheduler } from "./scheduler/scheduler.js";
import type { TushareApi } from "./tushare/types.js";
import { Warehouse } from "./warehouse/db.js";

export interface SchedulerSettings {
  enabled: boolean;
  watch: readonly string[];
  years: number;
  windowStart?: string;
  afterCloseMin: number;
  retryFailedMs: number;
  tickMs: number;
}

export interface ServiceOptions {
  dataDir: string;
  host: string;
  port: number;
  /** Also listen on this unix socket (0666). A stale socket file is replaced; any other file there is an error. */
  socketPath?: string;
  api: TushareApi;
  scheduler: SchedulerSettings;
  clock?: Clock;
  log?: Logger;
  metrics?: Metrics;
  /** Progress of the daily backfill, per whole day written. */
  onDay?: (tradeDate: string, rows: number) => void;
}

export interface Service {
  url: string;
  port: number;
  socketPath: string | undefined;
  dataDir: string;
  wh: Warehouse;
  scheduler: Scheduler;
  metrics: Metrics;
  requestLog: RequestLog;
  adminToken: string;
  /** The cite key set (rotation, reload on SIGHUP). */
  keys: KeyRing;
  close(): Promise<void>;
}

/** Opens the warehouse read-write; a second process on the same file gets a clear error. */
export async function openWarehouse(dataDir: string): Promise<Warehouse> {
  ensureDataDir(dataDir);
  const path = join(dataDir, DATA_FILES.warehouse);
  try {
    return await Warehouse.open({ path });
  } catch (e) {
    const msg = (e as Error).message;
    if (/lock/i.test(msg))
      throw new Unavailable(`warehouse ${path} is in use by another process`, {
        hint: "the data service is the only writer: stop it, or ask it (backfill --url) to do the work",
        cause: e,
      });
    throw e;
  }
}

export function buildScheduler(o: {
  wh: Warehouse;
  api: TushareApi;
  settings: SchedulerSettings;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  onDay?: (tradeDate: string, rows: number) => void;
}): Scheduler {
  const s = o.settings;
  return new Scheduler({
    wh: o.wh,
    api: o.api,
    clock: o.clock,
    log: o.log.child({ part: "scheduler", source: o.api.source }),
    watch: s.watch,
    years: s.years,
    ...(s.windowStart ? { windowStart: s.windowStart } : {}),
    afterCloseMin: s.afterCloseMin,
    retryFailedMs: s.retryFailedMs,
    tickMs: s.tickMs,
    onRunFinished: (run) => o.metrics.schedulerRuns.inc({ status: run.status }),
    ...(o.onDay ? { onDay: o.onDay } : {}),
  });
}

export async function startService(o: ServiceOptions): Promise<Service> {
  const log = o.log ?? createLogger("mcp-tushare");
  const clock = o.clock ?? systemClock;
  const metrics = o.metrics ?? new Metrics();
  ensureDataDir(o.dataDir);
  const keys = new KeyRing(o.dataDir, () => clock.now(), log);
  const adminToken = ensureAdminToken(o.dataDir);
  const tokens = new TokenStore(join(o.dataDir, DATA_FILES.tokens), log);
  const wh = await openWarehouse(o.dataDir);
  const requestLog = new RequestLog(wh, { log });
  const scheduler = buildScheduler({
    wh,
    api: o.api,
    settings: o.scheduler,
    clock,
    log,
    metrics,
    ...(o.onDay ? { onDay: o.onDay } : {}),
  });
  await scheduler.init();
  const router = buildRouter({
    wh,
    signingKey: () => keys.signingKey(),
    requestLog,
    metrics,
    log,
    clock,
    identify: (t) => identify(t, tokens, adminToken),
    tokenStatus: () => tokens.status(),
    scheduler: o.scheduler.enabled ? scheduler : undefined,
    afterCloseMin: o.scheduler.afterCloseMin,
    exchange: "SSE",
    adminToken,
    publicKeys: () => keys.published(),
  });
  const makeServer = (): Server => {
    const s = createServer((req, res) => {
      const route = new URL(req.url ?? "/", "http://x").pathname;
      res.on("finish", () => metrics.httpRequests.inc({ route: routeLabel(route), status: String(res.statusCode) }));
      void router.handle(req, res, log);
    });
    s.keepAliveTimeout = 5_000;
    return s;
  };
  const server = makeServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const servers = [server];
  if (o.socketPath) servers.push(await listenSocket(makeServer(), o.socketPath));
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(":") ? `[${o.host}]` : o.host === "0.0.0.0" ? "127.0.0.1" : o.host;
  if (o.scheduler.enabled) scheduler.start();
  log.info(
    { host: o.host, port, socket: o.socketPath, source: o.api.source, scheduler: o.scheduler.enabled, watch: o.scheduler.watch },
    "data service listening",
  );
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    socketPath: o.socketPath,
    dataDir: o.dataDir,
    wh,
    scheduler,
    metrics,
    requestLog,
    adminToken,
    keys,
    close: () => {
      closing ??= (async () => {
        await scheduler.stop();
        await Promise.all(
          servers.map(
            (s) =>
              new Promise<void>((resolve) => {
                s.close(() => resolve());
                s.closeIdleConnections();
                setTimeout(() => s.closeAllConnections(), 3_000).unref();
              }),
          ),
        );
        await requestLog.close();
        await wh.close();
        tokens.close();
        keys.close();
      })();
      return closing;
    },
  };
}

/** Listen on a unix socket: replace a stale socket file (never another kind of file), then open it to every local uid. */
async function listenSocket(server: Server, path: string): Promise<Server> {
  let st: ReturnType<typeof lstatSync> | undefined;
  try {
    st = lstatSync(path);
  } catch {
    st = undefined;
  }
  if (st && !st.isSocket())
    throw new ConfigInvalid(`MCP_SOCKET_PATH ${path} exists and is not a socket`, { hint: "remove it or choose another path" });
  if (st) unlinkSync(path);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve());
  });
  chmodSync(path, 0o666);
  return server;
}

const KNOWN_ROUTES = new Set([
  "/mcp",
  "/health",
  "/metrics",
  "/.well-known/cite-keys",
  "/admin/requests",
  "/admin/scheduler/run",
  "/warehouse/daily",
  "/warehouse/trade_cal",
  "/warehouse/fundamentals",
  "/warehouse/stocks",
]);
function routeLabel(path: string): string {
  return KNOWN_ROUTES.has(path) ? path : "other";
}
