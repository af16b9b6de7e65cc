/**
 * The dashboard's server side (`/ui/`): static assets, sign-in with the admin token into an in-memory session
 * (cookie HttpOnly, SameSite=Strict, 12 h), the CSRF token for actions, and the SSE stream of fleet changes. The admin
 * API itself is unchanged: `sessionAuth` lets its admin routes accept the session cookie (reads) and the cookie plus
 * `x-csrf-token` (anything that changes state), so the page acts through exactly the routes the CLI uses.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Forbidden, type Logger, readBody, safeEqual, Unauthorized } from "@twilight/core";
import { DASHBOARD_HEADERS, dashboardAsset } from "../dashboard/assets.js";
import type { Registry } from "../registry/types.js";

export const SESSION_COOKIE = "twilight_session";
const SESSION_MS = 12 * 3600_000;
const MAX_SESSIONS = 1000;
const MAX_STREAMS = 50;

interface Session {
  csrf: string;
  expires: number;
}

function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res
    .writeHead(status, {
      ...DASHBOARD_HEADERS,
      ...(text ? { "content-type": "application/json; charset=utf-8" } : {}),
      ...extra,
    })
    .end(text);
}

export class Dashboard {
  private readonly sessions = new Map<string, Session>();
  private readonly streams = new Set<ServerResponse>();
  private timer?: NodeJS.Timeout;
  private unwatch: (() => void) | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private last = "";

  constructor(
    private readonly o: {
      adminToken: string;
      registry: Registry;
      log: Logger;
      /** Add `Secure` to the cookie (behind TLS). */
      secure?: boolean;
      /** How often the SSE stream checks the registry for changes (default 1 s). */
      streamIntervalMs?: number;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** The live session of this request, if any. */
  session(req: IncomingMessage): Session | undefined {
    const id = cookieOf(req, SESSION_COOKIE);
    if (!id || !/^[\w-]{43}$/.test(id)) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (s.expires < this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return s;
  }

  /**
   * For the admin authenticator: "ui" when the request carries a live session (and, for anything but GET/HEAD, the
   * session's CSRF token in `x-csrf-token`); undefined when it carries no session cookie at all.
   */
  sessionAuth(req: IncomingMessage): string | undefined {
    if (!cookieOf(req, SESSION_COOKIE)) return undefined;
    const s = this.session(req);
    if (!s) throw new Unauthorized("the dashboard session expired; sign in again");
    if (req.method !== "GET" && req.method !== "HEAD") {
      const h = req.headers["x-csrf-token"];
      if (typeof h !== "string" || !safeEqual(h, s.csrf)) throw new Forbidden("missing or wrong x-csrf-token");
    }
    return "ui";
  }

  /** Serve `/ui`, `/ui/*` (true), or leave the request alone (false). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path !== "/ui" && !path.startsWith("/ui/")) return false;
    if (path === "/ui") {
      res.writeHead(308, { ...DASHBOARD_HEADERS, location: "/ui/" }).end();
      return true;
    }
    if (path === "/ui/login" && req.method === "POST") return this.login(req, res);
    if (path === "/ui/logout" && req.method === "POST") {
      const s = this.session(req);
      if (s && req.headers["x-csrf-token"] === s.csrf) this.sessions.delete(cookieOf(req, SESSION_COOKIE) as string);
      send(res, 204, undefined, { "set-cookie": this.cookie("", 0) });
      return true;
    }
    if (path === "/ui/session" && req.method === "GET") {
      const s = this.session(req);
      if (!s) send(res, 401, { error: { code: "UNAUTHORIZED", message: "sign in first" } });
      else send(res, 200, { csrf: s.csrf, expires_at: new Date(s.expires).toISOString() });
      return true;
    }
    if (path === "/ui/events" && req.method === "GET") {
      if (!this.session(req)) send(res, 401, { error: { code: "UNAUTHORIZED", message: "sign in first" } });
      else this.stream(req, res);
      return true;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, { error: { code: "INPUT_INVALID", message: "method not allowed" } });
      return true;
    }
    const a = dashboardAsset(path);
    if (!a) send(res, 404, { error: { code: "NOT_FOUND", message: "no such page" } });
    else res.writeHead(200, { ...DASHBOARD_HEADERS, "content-type": a.contentType }).end(a.body);
    return true;
  }

  private cookie(value: string, maxAgeS: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${this.o.secure ? "; Secure" : ""}`;
  }

  private async login(req: IncomingMessage, res: ServerResponse): Promise<true> {
    let token = "";
    try {
      const body = JSON.parse((await readBody(req, 4096)).toString("utf8")) as { token?: unknown };
      token = typeof body.token === "string" ? body.token : "";
    } catch {
      token = "";
    }
    if (!token || !safeEqual(token, this.o.adminToken)) {
      this.o.log.warn({ ip: req.socket.remoteAddress }, "dashboard sign-in refused");
      await new Promise((r) => setTimeout(r, 250)); // slows guessing; the token is 256 bits anyway
      send(res, 401, { error: { code: "UNAUTHORIZED", message: "That token is not valid." } });
      return true;
    }
    const now = this.now();
    for (const [k, s] of this.sessions) if (s.expires < now) this.sessions.delete(k);
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
    const id = randomBytes(32).toString("base64url");
    this.sessions.set(id, { csrf: randomBytes(32).toString("base64url"), expires: now + SESSION_MS });
    this.o.log.info({ ip: req.socket.remoteAddress }, "dashboard sign-in");
    send(res, 204, undefined, { "set-cookie": this.cookie(id, SESSION_MS / 1000) });
    return true;
  }

  /**
   * SSE: `event: profiles` with every profile's status whenever one changes: sent right after each registry write (so a
   * restart's stopping -> starting -> running shows even when it takes less than a second), and checked every second
   * for writes made by another process (shared by all streams).
   */
  private stream(req: IncomingMessage, res: ServerResponse): void {
    if (this.streams.size >= MAX_STREAMS) {
      send(res, 503, { error: { code: "UNAVAILABLE", message: "too many live dashboards" } });
      return;
    }
    res.writeHead(200, {
      ...DASHBOARD_HEADERS,
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
    });
    res.write("retry: 2000\n\n");
    if (this.last) res.write(this.last);
    this.streams.add(res);
    const done = () => {
      this.streams.delete(res);
      if (this.streams.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
        this.unwatch?.();
        this.unwatch = undefined;
      }
    };
    req.on("close", done);
    res.on("close", done);
    if (!this.timer) {
      let beats = 0;
      this.timer = setInterval(() => {
        void this.tick(++beats % 15 === 0).catch((err) => this.o.log.warn({ err }, "dashboard stream tick failed"));
      }, this.o.streamIntervalMs ?? 1000);
      this.timer.unref();
      this.unwatch = this.o.registry.watch(() => void this.tick(false).catch(() => undefined));
      void this.tick(false);
    }
  }

  /** One tick at a time; a change while one runs gets a tick of its own after it, so no state is skipped. */
  private tick(heartbeat: boolean): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = this.send(heartbeat).finally(() => {
      this.ticking = undefined;
      if (this.again) {
        this.again = false;
        void this.tick(false).catch((err) => this.o.log.warn({ err }, "dashboard stream tick failed"));
      }
    });
    return this.ticking;
  }

  private async send(heartbeat: boolean): Promise<void> {
    const rows = await this.o.registry.list();
    const data = JSON.stringify({
      profiles: rows.map((r) => ({
        name: r.name,
        tier: r.tier,
        status: r.status,
        desired_state: r.desired_state,
        restart_count: r.restart_count,
      })),
    });
    const frame = `event: profiles\ndata: ${data}\n\n`;
    if (frame !== this.last) {
      this.last = frame;
      for (const s of this.streams) s.write(frame);
    } else if (heartbeat) for (const s of this.streams) s.write(": keep-alive\n\n");
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.unwatch?.();
    for (const s of this.streams) s.end();
    this.streams.clear();
  }
}
