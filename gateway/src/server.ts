/**
 * The gateway's HTTP server: `POST /v1/chat/completions` (JSON and SSE), `GET /v1/models`, `GET /health`, and with the
 * admin token `GET /metrics` and `GET /admin/usage`. Per request: virtual key -> profile and plan, plan limits (429 with
 * Retry-After and the limit's name), the profile's own queue and the fair upstream slots, the upstream call, then
 * metering (SQLite + metrics). Neither a key nor a request body is ever logged.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import {
  bearerToken,
  DomainError,
  InputInvalid,
  type Logger,
  type Plan,
  Router,
  readBody,
  requireBearer,
  sendJson,
  Unauthorized,
} from "@twilight/core";
import type { KeyEntry } from "./keys.js";
import { type Limiter, type Refusal, utcDay } from "./limits.js";
import type { Meter } from "./meter.js";
import type { Metrics } from "./metrics.js";
import { costMillifen, type ModelPrice, type PlanLimits, priceOf } from "./policy.js";
import { type FairScheduler, QueueFull } from "./scheduler.js";
import { isUsageOnly, SseSplitter, type Usage, usageOf } from "./sse.js";
import type { UpstreamClient } from "./upstream.js";

export interface GatewayDeps {
  keys: { lookup(key: string): KeyEntry | undefined };
  limiter: Limiter;
  scheduler: FairScheduler;
  upstream: UpstreamClient;
  meter: Meter;
  metrics: Metrics;
  limits: ReadonlyMap<Plan, PlanLimits>;
  prices: ReadonlyMap<string, ModelPrice>;
  adminToken: string;
  log: Logger;
}

const LIMIT_TEXT: Record<Refusal["limit"], string> = {
  rpm: "requests per minute",
  tpm: "tokens per minute",
  tpd: "tokens per day",
  spend: "monthly spend cap (fen)",
  concurrency: "requests in flight or queued",
};

export function gatewayRouter(d: GatewayDeps): Router {
  const r = new Router();
  r.on("GET", "/health", (_q, res) => sendJson(res, 200, { status: "ok" }));
  r.on("GET", "/metrics", async (req, res) => {
    requireBearer(req, d.adminToken);
    d.metrics.queued.set(d.scheduler.queued());
    res.writeHead(200, { "content-type": d.metrics.registry.contentType });
    res.end(await d.metrics.registry.metrics());
  });
  r.on("GET", "/admin/usage", (req, res, _p, url) => {
    requireBearer(req, d.adminToken);
    const since = url.searchParams.get("since") ?? undefined;
    if (since !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(since)) throw new InputInvalid("since must be YYYY-MM-DD");
    sendJson(res, 200, { usage: d.meter.usage({ profile: url.searchParams.get("profile") ?? undefined, since }) });
  });
  r.on("GET", "/v1/models", (req, res) => {
    authenticate(d, req);
    const data = [...d.prices.keys()].map((id) => ({ id, object: "model", created: 0, owned_by: "twilight-gateway" }));
    sendJson(res, 200, { object: "list", data });
  });
  r.on("POST", "/v1/chat/completions", (req, res) => chat(d, req, res));
  return r;
}

function authenticate(d: GatewayDeps, req: IncomingMessage): KeyEntry {
  const key = bearerToken(req);
  const entry = key ? d.keys.lookup(key) : undefined;
  if (!entry) throw new Unauthorized("unknown or revoked model key", "the profile's SILICONFLOW_API_KEY is issued by the fleet");
  return entry;
}

function refuse(d: GatewayDeps, res: ServerResponse, profile: string, r: Refusal): void {
  d.metrics.limited.inc({ profile, limit: r.limit });
  d.meter.limited(profile, utcDay(Date.now()), r.limit);
  res.setHeader("retry-after", String(r.retryAfter));
  sendJson(res, 429, {
    error: {
      code: "RATE_LIMITED",
      type: "rate_limit_exceeded",
      message: `profile ${profile} is over its plan's ${LIMIT_TEXT[r.limit]} (${r.limit}: ${r.used} of ${r.limitValue}); retry after ${r.retryAfter} s`,
      hint: r.limit === "spend" ? "the monthly spend cap resets on the 1st (UTC); a bigger plan raises it" : "slow down",
      details: { limit: r.limit, limit_value: r.limitValue, used: r.used, retry_after_seconds: r.retryAfter },
    },
  });
}

async function chat(d: GatewayDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = process.hrtime.bigint();
  const { profile, plan } = authenticate(d, req);
  const limits = d.limits.get(plan) as PlanLimits;
  const refusal = d.limiter.check(profile, limits);
  if (refusal) return refuse(d, res, profile, refusal);
  let body: { model?: unknown; stream?: unknown; stream_options?: { include_usage?: unknown } };
  try {
    body = JSON.parse((await readBody(req, 8 << 20)).toString("utf8"));
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw new InputInvalid("request body is not valid JSON");
  }
  if (typeof body?.model !== "string" || !body.model) throw new InputInvalid("model is required");
  const model = body.model;
  const stream = body.stream === true;
  const callerWantsUsage = stream && body.stream_options?.include_usage === true;
  if (stream) body.stream_options = { ...(body.stream_options ?? {}), include_usage: true };

  const ac = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) ac.abort();
  });
  let release: () => void;
  try {
    release = await d.scheduler.acquire(profile, limits.concurrency, limits.queue, ac.signal);
  } catch (e) {
    if (e instanceof QueueFull)
      return refuse(d, res, profile, {
        limit: "concurrency",
        retryAfter: 1,
        limitValue: limits.concurrency + limits.queue,
        used: e.inFlight + limits.queue,
      });
    throw e;
  }
  d.limiter.admit(profile);
  let usage: Usage | undefined;
  let status = 502;
  try {
    const up = await d.upstream.send("POST", "chat/completions", Buffer.from(JSON.stringify(body)), ac.signal);
    status = up.status;
    if (up.status !== 200 || !stream) {
      const chunks: Buffer[] = [];
      for await (const c of up.body) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks);
      if (up.status === 200) {
        try {
          usage = usageOf(JSON.parse(text.toString("utf8")));
        } catch {
          usage = undefined;
        }
      }
      res.writeHead(up.status, {
        "content-type": up.headers["content-type"] ?? "application/json",
        "content-length": text.length,
      });
      res.end(text);
    } else {
      res.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      res.flushHeaders();
      const sse = new SseSplitter();
      up.body.setEncoding("utf8");
      for await (const chunk of up.body) {
        for (const ev of sse.push(chunk as string)) {
          if (!callerWantsUsage && isUsageOnly(ev.data)) continue;
          res.write(ev.raw);
        }
      }
      const rest = sse.rest();
      if (rest) res.write(rest);
      res.end();
      usage = sse.usage ?? { prompt_tokens: 0, completion_tokens: sse.deltas };
    }
  } catch (e) {
    if (e instanceof DomainError && e.details.upstream_status === 429)
      res.setHeader("retry-after", String(e.details.retry_after_seconds ?? 1));
    throw e;
  } finally {
    release();
    const prompt = usage?.prompt_tokens ?? 0;
    const completion = usage?.completion_tokens ?? 0;
    const millifen = costMillifen(priceOf(d.prices, model), prompt, completion);
    d.limiter.settle(profile, prompt + completion, millifen);
    d.meter.record({ profile, day: utcDay(Date.now()), model, prompt, completion, millifen });
    d.metrics.tokens.inc({ profile, direction: "prompt" }, prompt);
    d.metrics.tokens.inc({ profile, direction: "completion" }, completion);
    d.metrics.spend.inc({ profile }, millifen / 1000);
    d.metrics.requests.inc({ profile, code: String(status) });
    d.metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }
}

export function startServer(router: Router, log: Logger, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => void router.handle(req, res, log));
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
