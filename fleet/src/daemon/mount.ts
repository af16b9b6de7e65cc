/**
 * Mounts the admin API's handlers from the contract's route table. The mount does, for every route and in this order:
 * read the body (bounded), authenticate per the route's `auth`, let `beforeChange` refuse a route that changes
 * something (every method but GET: a standby daemon refuses them, see leadership.ts), validate path parameters, query
 * and body with the route's schemas, then call the handler and answer in the route's `kind`. A handler cannot skip
 * auth, validation or the leader check.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { formatIssues, InputInvalid, type Logger, type Router, readBody, sendJson } from "@twilight/core";
import type { z } from "zod/v4";
import type { BodyOf, ParamsOf, QueryOf, ResponseOf, RouteAuth, RouteDef, RouteId, Routes } from "../contract/routes.js";
import { ROUTES } from "../contract/routes.js";
import type { Progress } from "../workload/context.js";
import { respondOp } from "./ops.js";

export interface Call<R extends RouteDef> {
  req: IncomingMessage;
  res: ServerResponse;
  params: ParamsOf<R>;
  query: QueryOf<R>;
  body: BodyOf<R>;
  /** Who asked (`x-actor` header when well-formed, else the auth principal). */
  actor: string;
  progress: Progress;
}

type Answering<R extends RouteDef> = (c: Call<R>) => Promise<ResponseOf<R>>;
type Writing<R extends RouteDef> = (c: Call<R>) => Promise<void>;
export type Handler<R extends RouteDef> = R["kind"] extends "json" | "op"
  ? Answering<R> | { run: Answering<R>; status: (r: ResponseOf<R>) => number }
  : Writing<R>;
export type Handlers = { [K in RouteId]: Handler<Routes[K]> };

/** Authenticates a request for one auth class (throws Unauthorized); returns the principal's name. */
export type Authenticator = (req: IncomingMessage, rawBody: Buffer) => string | Promise<string>;

const BODY_LIMIT = 64 * 1024;

function parse<S extends z.ZodType>(what: string, schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new InputInvalid(`invalid ${what}: ${formatIssues(r.error.issues, `(${what})`)}`);
  return r.data;
}

function actorOf(req: IncomingMessage, principal: string): string {
  const a = req.headers["x-actor"];
  return typeof a === "string" && /^[\w@.:-]{1,64}$/.test(a) ? a : principal;
}

export function mountRoutes(
  router: Router,
  handlers: Handlers,
  auth: Record<Exclude<RouteAuth, "none">, Authenticator>,
  log: Logger,
  opts: { beforeChange?: () => void } = {},
): void {
  for (const id of Object.keys(ROUTES) as RouteId[]) {
    const def = ROUTES[id] as RouteDef;
    const h = handlers[id] as Handler<RouteDef>;
    router.on(def.method, def.path, async (req, res, rawParams, url) => {
      const raw = def.body || def.auth === "provision" ? await readBody(req, BODY_LIMIT) : Buffer.alloc(0);
      const principal = def.auth === "none" ? "anonymous" : await auth[def.auth](req, raw);
      if (def.method !== "GET") opts.beforeChange?.();
      let json: unknown;
      if (def.body) {
        try {
          json = raw.length === 0 ? {} : JSON.parse(raw.toString("utf8"));
        } catch (e) {
          throw new InputInvalid(`request body is not valid JSON: ${(e as Error).message}`);
        }
      }
      const call: Call<RouteDef> = {
        req,
        res,
        params: parse("path", def.params, rawParams),
        query: parse("query", def.query, Object.fromEntries(url.searchParams)),
        body: (def.body ? parse("body", def.body, json) : undefined) as never,
        actor: actorOf(req, principal),
        progress: () => undefined,
      };
      if (def.kind === "json" || def.kind === "op") {
        const run = typeof h === "function" ? (h as Answering<RouteDef>) : (h as { run: Answering<RouteDef> }).run;
        const status = typeof h === "function" ? undefined : (h as { status: (r: unknown) => number }).status;
        if (def.kind === "json") {
          const r = await run(call);
          sendJson(res, status?.(r) ?? def.ok[0] ?? 200, r);
        } else await respondOp(req, res, (progress) => run({ ...call, progress }), { status, log });
        return;
      }
      await (h as Writing<RouteDef>)(call);
    });
  }
}
