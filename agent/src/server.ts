/**
 * The profile's HTTP edge (contract 3): health without auth, everything else behind the profile's API key. Standby mode
 * answers health as `standby` and every other route 503 until `POST /admin/activate`. Routes of the runtime (chat,
 * sessions, models) are mounted by `mountApi` once the runtime is open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Logger, Router, requireBearer, sendError, sendJson, Unavailable } from "@twilight/core";
import type { AgentMetrics } from "./metrics.js";

export type AgentState = "standby" | "starting" | "ok" | "stopping";

export interface ServerDeps {
  profile: string;
  generation: number;
  apiKey: string;
  metrics: AgentMetrics;
  log: Logger;
  /** Opens state.db and the rest of the runtime; called at start (not standby) or on activate. Returns the API router. */
  open: () => Promise<Router>;
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
  private activating: Promise<void> | null = null;

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
    const status = this.state === "ok" ? "ok" : this.state === "stopping" ? "stopping" : "standby";
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
      if (!this.api || this.state !== "ok") {
        requireBearer(req, this.deps.apiKey);
        throw new Unavailable(`the profile is in ${this.state} mode`, { hint: "POST /admin/activate to bring it up" });
      }
    } catch (e) {
      sendError(res, e, this.deps.log);
      return;
    }
    return this.api.handle(req, res, this.deps.log);
  }

  /** Open the runtime once; concurrent callers share the same attempt. */
  async activate(): Promise<void> {
    if (this.state === "ok") return;
    if (this.state === "stopping") throw new Unavailable("the profile is shutting down");
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
