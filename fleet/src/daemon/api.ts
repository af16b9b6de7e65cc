/** The fleet daemon's HTTP API (admin, bearer token) and the front door (`/p/<profile>/...`). */
import type { IncomingMessage, ServerResponse } from "node:http";
import { InputInvalid, type Logger, Router, readJson, requireBearer, sendJson } from "@twilight/core";
import { z } from "zod";
import type { FleetMetrics } from "../metrics.js";
import type { ProfileRow } from "../registry/types.js";
import type { FleetContext } from "../service/context.js";
import { probeHealth } from "../service/health.js";
import type { Migrator } from "../service/migrate.js";
import type { ProfileService } from "../service/profiles.js";
import { specOf } from "../service/workloads.js";
import type { FrontDoor } from "./frontdoor.js";
import { respondOp } from "./ops.js";
import { unitFor } from "./views.js";

export interface ApiDeps {
  ctx: FleetContext;
  profiles: ProfileService;
  migrator: Migrator;
  frontDoor: FrontDoor;
  metrics: FleetMetrics;
  adminToken: string;
  log: Logger;
  publicUrl: () => string;
  extraRoutes?: (r: Router, auth: (req: IncomingMessage) => void) => void;
}

const SpawnBody = z
  .object({
    tier: z.string(),
    plan: z.string().max(64).nullish(),
    user_id: z.string().max(128).nullish(),
    set: z.record(z.string()).optional(),
  })
  .strict();
const MigrateBody = z
  .object({
    to: z.enum(["prefab", "container"]),
    health_timeout_ms: z.number().int().min(1).max(600_000).optional(),
    drain_timeout_ms: z.number().int().min(0).max(600_000).optional(),
  })
  .strict();
const ExecBody = z.object({ argv: z.array(z.string()).min(1).max(256) }).strict();

function parse<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success)
    throw new InputInvalid(
      `invalid request body: ${r.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${i.message}`).join("; ")}`,
    );
  return r.data;
}

function actorOf(req: IncomingMessage): string {
  const a = String(req.headers["x-actor"] ?? "api");
  return /^[\w@.:-]{1,64}$/.test(a) ? a : "api";
}

export function profileView(row: ProfileRow, publicUrl: string) {
  return {
    ...row,
    status_url: `${publicUrl}/p/${row.name}/health`,
    api_base: `${publicUrl}/p/${row.name}/v1`,
  };
}

export function buildApi(d: ApiDeps): Router {
  const r = new Router();
  const auth = (req: IncomingMessage) => requireBearer(req, d.adminToken);
  const view = (row: ProfileRow) => profileView(row, d.publicUrl());

  r.on("GET", "/v1/health", (_req, res) => sendJson(res, 200, { status: "ok", pid: process.pid }));
  r.on("GET", "/metrics", async (req, res) => {
    auth(req);
    const rows = await d.ctx.registry.list();
    d.metrics.profiles.reset();
    for (const row of rows) {
      d.metrics.profiles.inc({ tier: row.tier, status: row.status });
      d.metrics.restarts.set({ profile: row.name }, row.restart_count);
    }
    res.writeHead(200, { "content-type": d.metrics.registry.contentType });
    res.end(await d.metrics.registry.metrics());
  });

  r.on("GET", "/v1/profiles", async (req, res, _p, url) => {
    auth(req);
    const withStats = url.searchParams.get("stats") === "1";
    const rows = await d.profiles.list();
    const out = await Promise.all(
      rows.map(async (row) => ({ ...view(row), runtime: await d.profiles.runtimeView(row, withStats) })),
    );
    sendJson(res, 200, { profiles: out });
  });
  r.on("GET", "/v1/profiles/:name", async (req, res, p) => {
    auth(req);
    const row = await d.profiles.get(p.name as string);
    sendJson(res, 200, { ...view(row), runtime: await d.profiles.runtimeView(row, true) });
  });
  r.on("PUT", "/v1/profiles/:name", async (req, res, p) => {
    auth(req);
    const body = parse(SpawnBody, await readJson(req, 64 * 1024));
    const key = req.headers["idempotency-key"];
    await respondOp(
      req,
      res,
      async (progress) => {
        const out = await d.profiles.spawn(
          {
            name: p.name as string,
            tier: body.tier,
            plan: body.plan ?? null,
            userId: body.user_id ?? null,
            set: body.set,
            idempotencyKey: typeof key === "string" ? key : null,
            actor: actorOf(req),
          },
          progress,
        );
        return { created: out.created, profile: view(out.profile), connection: connectionInfo(out.profile, d.publicUrl()) };
      },
      { status: (o) => (o.created ? 201 : 200), log: d.log },
    );
  });
  for (const verb of ["start", "stop", "restart"] as const) {
    r.on("POST", `/v1/profiles/:name/${verb}`, async (req, res, p) => {
      auth(req);
      await respondOp(req, res, async (progress) => view(await d.profiles[verb](p.name as string, actorOf(req), progress)), {
        log: d.log,
      });
    });
  }
  r.on("POST", "/v1/profiles/:name/migrate", async (req, res, p) => {
    auth(req);
    const body = parse(MigrateBody, await readJson(req, 4096));
    await respondOp(
      req,
      res,
      (progress) =>
        d.migrator.migrate(
          p.name as string,
          { to: body.to, actor: actorOf(req), healthTimeoutMs: body.health_timeout_ms, drainTimeoutMs: body.drain_timeout_ms },
          progress,
        ),
      { log: d.log },
    );
  });
  r.on("DELETE", "/v1/profiles/:name", async (req, res, p, url) => {
    auth(req);
    const force = url.searchParams.get("force") === "1";
    const purge = url.searchParams.get("purge") === "1";
    await d.profiles.remove(p.name as string, { force, purge, actor: actorOf(req) });
    sendJson(res, 200, { removed: p.name, purged: purge });
  });
  r.on("GET", "/v1/profiles/:name/health", async (req, res, p) => {
    auth(req);
    const row = await d.profiles.get(p.name as string);
    const direct = await probeHealth(row.port, 3000);
    sendJson(res, 200, {
      name: row.name,
      tier: row.tier,
      status: row.status,
      healthy: direct.ok,
      probe: direct,
      last_error: row.last_error,
    });
  });
  r.on("GET", "/v1/profiles/:name/logs", async (req, res, p, url) => {
    auth(req);
    const row = await d.profiles.get(p.name as string);
    const follow = url.searchParams.get("follow") === "1";
    const tail = Number(url.searchParams.get("tail") ?? 100);
    if (!Number.isInteger(tail) || tail < 0 || tail > 100_000) throw new InputInvalid("tail must be 0-100000");
    const ac = new AbortController();
    req.on("close", () => ac.abort());
    res.on("close", () => ac.abort());
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" });
    for await (const l of d.ctx.drivers.for(row.tier).logs(specOf(d.ctx, row), { follow, tail, signal: ac.signal })) {
      if (ac.signal.aborted) break;
      res.write(`${l.line}\n`);
    }
    res.end();
  });
  r.on("POST", "/v1/profiles/:name/exec", async (req, res, p) => {
    auth(req);
    const body = parse(ExecBody, await readJson(req, 64 * 1024));
    const row = await d.profiles.get(p.name as string);
    const ac = new AbortController();
    res.on("close", () => ac.abort());
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    const frame = (s: "o" | "e") => (b: Buffer) => res.write(`${JSON.stringify({ s, d: b.toString("base64") })}\n`);
    await d.ctx.registry.addEvent({
      profile: row.name,
      actor: actorOf(req),
      action: "exec",
      result: "info",
      detail: { argv0: body.argv[0] },
    });
    const code = await d.ctx.drivers
      .for(row.tier)
      .exec(specOf(d.ctx, row), body.argv, { onStdout: frame("o"), onStderr: frame("e"), signal: ac.signal });
    res.end(`${JSON.stringify({ exit: code })}\n`);
  });
  r.on("GET", "/v1/profiles/:name/unit", async (req, res, p) => {
    auth(req);
    const row = await d.profiles.get(p.name as string);
    res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
    res.end(unitFor(d.ctx, row));
  });
  r.on("GET", "/v1/events", async (req, res, _p, url) => {
    auth(req);
    const profile = url.searchParams.get("profile") ?? undefined;
    const limit = Math.min(1000, Number(url.searchParams.get("limit") ?? 50) || 50);
    sendJson(res, 200, { events: await d.ctx.registry.events({ profile, limit }) });
  });
  d.extraRoutes?.(r, auth);
  return r;
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

/** Front door dispatch: `/p/<profile>/<rest>`. */
export async function handleFrontDoor(fd: FrontDoor, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const url = req.url ?? "/";
  const m = /^\/p\/([a-z0-9-]{1,40})(\/.*)?$/.exec(url.split("?")[0] ?? "");
  if (!m) return false;
  const q = url.includes("?") ? url.slice(url.indexOf("?")) : "";
  await fd.handle(m[1] as string, (m[2] ?? "/") + q, req, res);
  return true;
}
