/**
 * The profile's HTTP edge (contract 3): health without auth, everything else behind the profile's API key. Standby mode
 * answers health as `standby` and every other route 503 until `POST /admin/activate`. `POST /admin/release` is the
 * other end of a handover: the runtime stops taking requests, waits for those in flight, closes its state (state.db)
 * and answers once it is closed; it then says `released` and answers 503 until it is stopped. Routes of the runtime (chat,
 * sessions, models) are mounted by `mountApi` once the runtime is open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  Conflict,
  InputInvalid,
  type Logger,
  Router,
  readJson,
  requireBearer,
  sendError,
  sendJson,
  Unavailable,
} from "@twilight/core";
import type { AgentMetrics } from "./metrics.js";

export type AgentState = "pooled" | "standby" | "starting" | "ok" | "stopping" | "released";

/**
 * A pooled runtime (the fleet's warm pool): started under a pre-allocated uid with no profile and no secret, it answers
 * /health as `pooled` and nothing else until `POST /admin/assign` (bearer: the pool key it was started with) hands it
 * a profile: the environment a fresh start of that profile would get and its directory. It then takes that environment
 * as its own, builds the profile's server dependencies with `assign` and activates, exactly as a fresh start does.
 */
export interface PoolAssignment {
  env: Record<string, string>;
  cwd: string;
}
export interface PoolOptions {
  key: string;
  log: Logger;
  assign: (a: PoolAssignment) => Promise<ServerDeps>;
}

export interface ServerDeps {
  profile: string;
  generation: number;
  apiKey: string;
  metrics: AgentMetrics;
  log: Logger;
  /** Opens state.db and the rest of the runtime; called at start (not standby) or on activate. Returns the API router. */
  open: () => Promise<Router>;
  /** Closes what `open` opened (state.db first); `POST /admin/release` waits for it. */
  close?: () => Promise<void>;
  /** How long a release waits for requests in flight before it closes the state anyway (default 10 s). */
  releaseGraceMs?: number;
  /** Told when requests begin and end (idle-gc.ts gives memory back once they stop). */
  idle?: { busy(): void; done(inflight: number): void };
}

export class AgentServer {
  state: AgentState;
  private api: Router | null = null;
  private readonly started = Date.now();
  private readonly base = new Router();
  private readonly http: Server;
  private inflight = 0;
  /** Requests inside the runtime's routes (what a release waits for). */
  private apiInflight = 0;
  private activating: Promise<void> | null = null;
  private releasing: Promise<void> | null = null;

  /** The profile's dependencies; until a pooled runtime is assigned, a stand-in that only logs (never read otherwise). */
  private deps: ServerDeps;
  private readonly pool: PoolOptions | null;
  private assigning: Promise<void> | null = null;

  /** A runtime of one profile (`deps`), or, with `pool` and no `deps`, a pooled runtime waiting for its profile. */
  constructor(deps: ServerDeps | null, pool?: PoolOptions) {
    this.deps = deps ?? unassigned(pool as PoolOptions);
    this.pool = pool ?? null;
    this.state = pool ? "pooled" : "standby";
    const health = (_q: IncomingMessage, res: ServerResponse) => sendJson(res, 200, this.health());
    this.base.on("GET", "/health", health).on("GET", "/v1/health", health);
    this.base.on("GET", "/metrics", async (req, res) => {
      this.requireAssigned(req);
      const text = await this.deps.metrics.registry.metrics();
      res.writeHead(200, { "content-type": this.deps.metrics.registry.contentType });
      res.end(text);
    });
    this.base.on("POST", "/admin/activate", async (req, res) => {
      this.requireAssigned(req);
      await this.activate();
      sendJson(res, 200, this.health());
    });
    this.base.on("POST", "/admin/release", async (req, res) => {
      this.requireAssigned(req);
      await this.release();
      sendJson(res, 200, this.health());
    });
    this.base.on("POST", "/admin/assign", async (req, res) => {
      if (!this.pool) throw new Unavailable("this runtime was not started pooled");
      requireBearer(req, this.pool.key);
      await this.assign(parseAssignment(await readJson(req, 256 * 1024)));
      sendJson(res, 200, this.health());
    });
    this.http = createServer((req, res) => {
      this.inflight++;
      // the fleet's health probe (every 5 s) and metric scrapes leave next to no garbage: were they activity, every
      // idle profile would run a full GC every few seconds (200 idle profiles kept a third of this host busy)
      const probe = isProbe(req.method, req.url);
      if (!probe) this.deps.idle?.busy();
      res.on("close", () => {
        this.inflight--;
        if (!probe) this.deps.idle?.done(this.inflight);
      });
      void this.dispatch(req, res);
    });
    this.http.keepAliveTimeout = 5_000;
    this.http.requestTimeout = 120_000;
  }

  /** Auth of the admin edge once the runtime has a profile; a pooled runtime has none to offer. */
  private requireAssigned(req: IncomingMessage): void {
    if (this.state === "pooled") throw new Unavailable("this runtime is pooled: no profile is assigned to it yet");
    requireBearer(req, this.deps.apiKey);
  }

  /** Take a profile (pooled runtimes only, once): its dependencies, then activation as a fresh start would. */
  private async assign(a: PoolAssignment): Promise<void> {
    const pool = this.pool as PoolOptions;
    if (this.assigning || this.state !== "pooled") throw new Conflict("this runtime has been assigned a profile already");
    this.assigning = (async () => {
      this.deps = await pool.assign(a);
      this.state = "standby";
      await this.activate();
    })();
    return this.assigning;
  }

  health(): Record<string, unknown> {
    if (this.state === "pooled") return { status: "pooled", uptime_s: Math.round((Date.now() - this.started) / 1000) };
    const status = this.state === "ok" || this.state === "stopping" || this.state === "released" ? this.state : "standby";
    return {
      status,
      profile: this.deps.profile,
      generation: this.deps.generation,
      uptime_s: Math.round((Date.now() - this.started) / 1000),
    };
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (this.base.match(req.method ?? "GET", url.pathname)) return this.base.handle(req, res, this.deps.log);
    try {
      if (this.state === "stopping") throw new Unavailable("the profile is shutting down", { hint: "retry shortly" });
      if (this.state === "released")
        throw new Unavailable("the profile has handed its state over (it is moving)", { hint: "retry through the front door" });
      if (!this.api || this.state !== "ok") {
        this.requireAssigned(req);
        throw new Unavailable(`the profile is in ${this.state} mode`, { hint: "POST /admin/activate to bring it up" });
      }
    } catch (e) {
      sendError(res, e, this.deps.log);
      return;
    }
    this.apiInflight++;
    res.on("close", () => this.apiInflight--);
    return this.api.handle(req, res, this.deps.log);
  }

  /** Hand the state over: no new requests, those in flight finish (bounded), the state is closed. Idempotent. */
  async release(): Promise<void> {
    if (this.state === "released") return;
    if (this.state === "stopping") throw new Unavailable("the profile is shutting down");
    this.releasing ??= (async () => {
      await this.activating?.catch(() => undefined);
      this.state = "released";
      const deadline = Date.now() + (this.deps.releaseGraceMs ?? 10_000);
      while (this.apiInflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      this.api = null;
      await this.deps.close?.();
      this.deps.log.info("profile runtime released its state");
    })();
    return this.releasing;
  }

  /** Open the runtime once; concurrent callers share the same attempt. */
  async activate(): Promise<void> {
    if (this.state === "ok") return;
    if (this.state === "stopping" || this.state === "released")
      throw new Unavailable(`the profile is ${this.state === "released" ? "released (handed over)" : "shutting down"}`);
    this.activating ??= (async () => {
      this.state = "starting";
      try {
        this.api = await this.deps.open();
        this.state = "ok";
        this.deps.log.info("profile runtime active");
      } catch (e) {
        this.state = "standby";
        throw e;
      } finally {
        this.activating = null;
      }
    })();
    return this.activating;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolveP, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, host, () => {
        this.http.off("error", reject);
        resolveP(this.http.address() as AddressInfo);
      });
    });
  }

  /** Stop accepting, let in-flight requests finish for up to `graceMs`, then drop the rest. */
  async close(graceMs: number): Promise<void> {
    this.state = "stopping";
    const closed = new Promise<void>((r) => this.http.close(() => r()));
    this.http.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    this.http.closeAllConnections();
    await closed;
  }
}

/** A health probe or a metrics scrape: answered, but not activity for the idle collector. */
export function isProbe(method: string | undefined, url: string | undefined): boolean {
  if (method !== "GET" || !url) return false;
  const path = url.split("?")[0];
  return path === "/health" || path === "/metrics";
}

/** What a pooled runtime stands on before it has a profile: its log, and nothing that could serve a request. */
function unassigned(pool: PoolOptions): ServerDeps {
  const none = () => Promise.reject(new Unavailable("this runtime is pooled: no profile is assigned to it yet"));
  return {
    profile: "",
    generation: 0,
    apiKey: "",
    metrics: null as unknown as AgentMetrics, // never read: /metrics is refused while pooled (requireAssigned)
    log: pool.log,
    open: none,
  };
}

function parseAssignment(body: unknown): PoolAssignment {
  const b = body as Partial<PoolAssignment> | null;
  const env = b?.env;
  const ok =
    typeof b?.cwd === "string" &&
    b.cwd.startsWith("/") &&
    env !== null &&
    typeof env === "object" &&
    Object.values(env).every((v) => typeof v === "string");
  if (!ok) throw new InputInvalid("assign needs {env: {name: value}, cwd: absolute path}");
  return { env: env as Record<string, string>, cwd: b?.cwd as string };
}
