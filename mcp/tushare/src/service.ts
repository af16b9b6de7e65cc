/**
 * Assembles the data service: data directory secrets, warehouse, request log, scheduler and the HTTP server.
 * Everything is passed in (clock, logger, Tushare seam), so tests run several services side by side on port 0.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createLogger, type Logger, type PublicCiteKey, Unavailable } from "@twilight/core";
import { DATA_FILES, ensureAdminToken, ensureDataDir, ensureSigningKey, identify, TokenStore } from "./auth.js";
import { type Clock, systemClock } from "./clock.js";
import { buildRouter } from "./http/routes.js";
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
  dataDir: string;
  wh: Warehouse;
  scheduler: Scheduler;
  metrics: Metrics;
  requestLog: RequestLog;
  adminToken: string;
  publicKeys: PublicCiteKey[];
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
  const { key, publicKeys } = ensureSigningKey(o.dataDir);
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
    key,
    requestLog,
    metrics,
    log,
    clock,
    identify: (t) => identify(t, tokens, adminToken),
    scheduler: o.scheduler.enabled ? scheduler : undefined,
    afterCloseMin: o.scheduler.afterCloseMin,
    exchange: "SSE",
    adminToken,
    publicKeys,
  });
  const server: Server = createServer((req, res) => {
    const route = new URL(req.url ?? "/", "http://x").pathname;
    res.on("finish", () => metrics.httpRequests.inc({ route: routeLabel(route), status: String(res.statusCode) }));
    void router.handle(req, res, log);
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = o.host.includes(":") ? `[${o.host}]` : o.host === "0.0.0.0" ? "127.0.0.1" : o.host;
  if (o.scheduler.enabled) scheduler.start();
  log.info(
    { host: o.host, port, source: o.api.source, scheduler: o.scheduler.enabled, watch: o.scheduler.watch },
    "data service listening",
  );
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    dataDir: o.dataDir,
    wh,
    scheduler,
    metrics,
    requestLog,
    adminToken,
    publicKeys,
    close: () => {
      closing ??= (async () => {
        await scheduler.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 3_000).unref();
        });
        await requestLog.close();
        await wh.close();
      })();
      return closing;
    },
  };
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
