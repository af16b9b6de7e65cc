/**
 * The profile's HTTP edge (contract 3): health without auth, everything else behind the profile's API key. Standby mode
 * answers health as `standby` and every other route 503 until `POST /admin/activate`. `POST /admin/release` is the
 * other end of a handover: the runtime stops taking requests, waits for those in flight, closes its state (state.db)
 * and answers once it is closed; it then says `released` and answers 503 until it is stopped. Routes of the runtime (chat,
 * sessions, models) are mounted by `mountApi` once the runtime is open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, Router, requireBearer, sendError, sendJson, Unavailable } from "@twilight/core";
import type { AgentMetrics } from "./metrics.js";

export type AgentState = "standby" | "starting" | "ok" | "stopping" | "released";

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
  state: AgentState = "standby";
  private api: Router | null = null;
  private readonly started = Date.now();
  private readonly base = new Router();
  private readonly http: Server;
  private inflight = 0;
  /** Requests inside the runtime's routes (what a release waits for). */
  private apiInflight = 0;
  private activating: Promise<void> | null = null;
  private releasing: Promise<void> | null = null;

  constructor(private readonly deps: ServerDeps) {
    const health = (_q: IncomingMessage, res: ServerResponse) => sendJson(res, 200, this.health());
    this.base.on("GET", "/health", health).on("GET", "/v1/health", health);
    this.base.on("GET", "/metrics", async (req, res) => {
      requireBearer(req, deps.apiKey);
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
      res.end(text);
    });
    this.base.on("POST", "/admin/activate", async (req, res) => {
      requireBearer(req, deps.apiKey);
      await this.activate();
      sendJson(res, 200, this.health());
    });
    this.base.on("POST", "/admin/release", async (req, res) => {
      requireBearer(req, deps.apiKey);
      await this.release();
      sendJson(res, 200, this.health());
    });
    this.http = createServer((req, res) => {
      this.inflight++;
      deps.idle?.busy();
      res.on("close", () => {
        this.inflight--;
        deps.idle?.done(this.inflight);
      });
      void this.dispatch(req, res);
    });
    this.http.keepAliveTimeout = 5_000;
    this.http.requestTimeout = 120_000;
  }

  health(): Record<string, unknown> {
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
        requireBearer(req, this.deps.apiKey);
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
