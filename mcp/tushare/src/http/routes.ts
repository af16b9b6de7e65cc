/**
 * The HTTP surface: /mcp, /health, /metrics, /.well-known/cite-keys, /warehouse/* (bearer: a profile token or the
 * admin token), /admin/* (admin token). Query strings are validated by zod (unknown parameters refused); errors are
 * mapped once by the core Router.
 */
import type { IncomingMessage } from "node:http";
import {
  bearerToken,
  InputInvalid,
  type Logger,
  NotFound,
  normalizeStockCode,
  type PublicCiteKey,
  Router,
  requireBearer,
  sendJson,
  Unauthorized,
  Unavailable,
  yyyymmdd,
} from "@twilight/core";
import { z } from "zod";
import type { Metrics } from "../metrics.js";
import { PageQuery, page } from "../pagination.js";
import type { RequestLog } from "../requestLog.js";
import { type Scheduler, STEPS, type Step } from "../scheduler/scheduler.js";
import type { Warehouse } from "../warehouse/db.js";
import { dailyBars, fundamentals, latestBar, searchStocks, stockByCode, tradeCal } from "../warehouse/read.js";
import { type HealthDeps, health } from "./health.js";
import { handleMcp, type McpDeps } from "./mcp.js";

export interface RouteDeps extends McpDeps, HealthDeps {
  wh: Warehouse;
  metrics: Metrics;
  requestLog: RequestLog;
  scheduler: Scheduler | undefined;
  adminToken: string;
  publicKeys: () => PublicCiteKey[];
  log: Logger;
}

const DailyQ = z
  .object({
    ts_code: z.string().min(1).max(20).optional(),
    start_date: yyyymmdd.optional(),
    end_date: yyyymmdd.optional(),
    ...PageQuery,
  })
  .strict();
const CalQ = z
  .object({
    exchange: z.enum(["SSE", "SZSE"]).default("SSE"),
    start_date: yyyymmdd.optional(),
    end_date: yyyymmdd.optional(),
    is_open: z.enum(["0", "1"]).transform(Number).optional(),
    ...PageQuery,
  })
  .strict();
const FinaQ = z.object({ ts_code: z.string().min(1).max(20).optional(), period: yyyymmdd.optional(), ...PageQuery }).strict();
const StocksQ = z.object({ q: z.string().min(1).max(40).optional(), ...PageQuery }).strict();
const RequestsQ = z
  .object({
    profile: z.string().min(1).max(80).optional(),
    request_id: z.string().min(1).max(80).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
const RunQ = z.object({ steps: z.string().optional() }).strict();

export function parseQuery<S extends z.ZodTypeAny>(schema: S, url: URL): z.infer<S> {
  const r = schema.safeParse(Object.fromEntries(url.searchParams));
  if (!r.success)
    throw new InputInvalid(
      `bad query: ${r.error.issues.map((i) => `${i.path.join(".") || "(query)"}: ${i.message}`).join("; ")}`,
    );
  return r.data;
}

async function knownCode(wh: Warehouse, raw: string | undefined): Promise<string | undefined> {
  if (raw === undefined) return undefined;
  const code = normalizeStockCode(raw);
  if (!(await stockByCode(wh, code)) && !(await latestBar(wh, code))) throw new NotFound("stock", code);
  return code;
}

export function buildRouter(d: RouteDeps): Router {
  const r = new Router();
  const reader = (req: IncomingMessage, route: string) => {
    if (!d.identify(bearerToken(req))) {
      d.metrics.authFailures.inc({ route });
      throw new Unauthorized("missing or unknown bearer token", "use a profile's MCP token or the admin token");
    }
  };
  const admin = (req: IncomingMessage, route: string) => {
    try {
      requireBearer(req, d.adminToken);
    } catch (e) {
      d.metrics.authFailures.inc({ route });
      throw e;
    }
  };
  for (const m of ["POST", "GET", "DELETE"]) r.on(m, "/mcp", (req, res) => handleMcp(d, req, res));
  r.on("GET", "/health", async (_req, res) => {
    try {
      sendJson(res, 200, await health(d));
    } catch (e) {
      d.log.error({ err: e }, "health check failed");
      sendJson(res, 503, { status: "error", service: "mcp-tushare", error: (e as Error).message });
    }
  });
  r.on("GET", "/metrics", async (_req, res) => {
    await health(d).catch(() => undefined);
    const text = await d.metrics.registry.metrics();
    res.writeHead(200, { "content-type": d.metrics.registry.contentType });
    res.end(text);
  });
  r.on("GET", "/.well-known/cite-keys", (_req, res) => sendJson(res, 200, { keys: d.publicKeys() }));
  r.on("GET", "/warehouse/daily", async (req, res, _p, url) => {
    reader(req, "/warehouse/daily");
    const q = parseQuery(DailyQ, url);
    const ts_code = await knownCode(d.wh, q.ts_code);
    const out = await dailyBars(d.wh, { ...q, ts_code });
    sendJson(res, 200, page(out.rows, out.total, q.limit, q.offset));
  });
  r.on("GET", "/warehouse/trade_cal", async (req, res, _p, url) => {
    reader(req, "/warehouse/trade_cal");
    const q = parseQuery(CalQ, url);
    const out = await tradeCal(d.wh, q);
    sendJson(res, 200, page(out.rows, out.total, q.limit, q.offset));
  });
  r.on("GET", "/warehouse/fundamentals", async (req, res, _p, url) => {
    reader(req, "/warehouse/fundamentals");
    const q = parseQuery(FinaQ, url);
    const out = await fundamentals(d.wh, { ...q, ts_code: await knownCode(d.wh, q.ts_code) });
    sendJson(res, 200, page(out.rows, out.total, q.limit, q.offset));
  });
  r.on("GET", "/warehouse/stocks", async (req, res, _p, url) => {
    reader(req, "/warehouse/stocks");
    const q = parseQuery(StocksQ, url);
    let exact: string | undefined;
    try {
      exact = q.q ? normalizeStockCode(q.q) : undefined;
    } catch {
      exact = undefined;
    }
    const out = await searchStocks(d.wh, {
      ...(q.q ? { query: q.q } : {}),
      ...(exact ? { exact } : {}),
      limit: q.limit,
      offset: q.offset,
    });
    sendJson(res, 200, page(out.rows, out.total, q.limit, q.offset));
  });
  r.on("GET", "/admin/requests", async (req, res, _p, url) => {
    admin(req, "/admin/requests");
    const q = parseQuery(RequestsQ, url);
    sendJson(res, 200, { requests: await d.requestLog.query(q) });
  });
  r.on("POST", "/admin/scheduler/run", async (req, res, _p, url) => {
    admin(req, "/admin/scheduler/run");
    const q = parseQuery(RunQ, url);
    if (!d.scheduler) throw new Unavailable("the scheduler is disabled in this service (MCP_SCHEDULER=off)");
    const steps = q.steps ? q.steps.split(",").map((s) => s.trim()) : [...STEPS];
    const bad = steps.filter((s) => !(STEPS as readonly string[]).includes(s));
    if (bad.length) throw new InputInvalid(`unknown steps: ${bad.join(", ")}; known: ${STEPS.join(", ")}`);
    const run = await d.scheduler.runOnce("admin", steps as Step[]);
    sendJson(res, 200, { run });
  });
  return r;
}
