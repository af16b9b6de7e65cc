/**
 * Thin HTTP edge helpers shared by our node:http servers: a small router, JSON bodies with a size limit, bearer auth,
 * and the one place that maps a DomainError to a status code and an error body.
 */
import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { DomainError, type ErrorBody, HTTP_STATUS, InputInvalid, Unauthorized } from "./errors.js";

export type Params = Record<string, string>;
export type Handler = (req: IncomingMessage, res: ServerResponse, params: Params, url: URL) => Promise<void> | void;

interface Route {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  on(method: string, pattern: string, handler: Handler): this {
    this.routes.push({ method, parts: pattern.split("/").filter(Boolean), handler });
    return this;
  }

  /** Finds the route; returns false when none matches the path (the caller answers 404). */
  match(method: string, pathname: string): { handler: Handler; params: Params } | { allowed: string[] } | null {
    const segs = pathname.split("/").filter(Boolean);
    const allowed: string[] = [];
    for (const r of this.routes) {
      const params = matchParts(r.parts, segs);
      if (!params) continue;
      if (r.method === method || (method === "HEAD" && r.method === "GET")) return { handler: r.handler, params };
      allowed.push(r.method);
    }
    return allowed.length ? { allowed } : null;
  }

  /** Dispatch with error mapping; `log` receives unexpected errors (never request bodies). */
  async handle(req: IncomingMessage, res: ServerResponse, log?: Logger): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    try {
      const m = this.match(req.method ?? "GET", url.pathname);
      if (!m) throw new DomainError("NOT_FOUND", `no route for ${req.method} ${url.pathname}`);
      if ("allowed" in m) {
        res.setHeader("allow", m.allowed.join(", "));
        throw new DomainError("INPUT_INVALID", `method ${req.method} not allowed on ${url.pathname}`, {
          details: { allowed: m.allowed },
        });
      }
      await m.handler(req, res, m.params, url);
    } catch (e) {
      sendError(res, e, log);
    }
  }
}

function matchParts(pattern: string[], segs: string[]): Params | null {
  const params: Params = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i] as string;
    if (p === "*") {
      params["*"] = segs.slice(i).map(decodeURIComponent).join("/");
      return params;
    }
    const s = segs[i];
    if (s === undefined) return null;
    if (p.startsWith(":")) params[p.slice(1)] = decodeURIComponent(s);
    else if (p !== s) return null;
  }
  return segs.length === pattern.length ? params : null;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function errorBody(e: DomainError): ErrorBody {
  return { error: e.toJSON() };
}

/** The single DomainError -> HTTP mapping. Anything else is a 500 whose details go to the log, not to the caller. */
export function sendError(res: ServerResponse, e: unknown, log?: Logger): void {
  if (e instanceof DomainError) {
    if (e.code === "UNAUTHORIZED") res.setHeader("www-authenticate", 'Bearer realm="twilight"');
    const status = HTTP_STATUS[e.code];
    // a 503 that knows when to come back says so in the header too (a standby fleet daemon: NotLeader)
    const retryAfter = e.details.retry_after_seconds;
    if (status === 503 && typeof retryAfter === "number" && retryAfter > 0 && !res.headersSent)
      res.setHeader("retry-after", String(Math.ceil(retryAfter)));
    sendJson(res, status, errorBody(e));
    return;
  }
  log?.error({ err: e }, "unhandled error");
  sendJson(res, 500, errorBody(new DomainError("INTERNAL", "internal error; see the service log")));
}

export async function readBody(req: IncomingMessage, limitBytes = 1 << 20): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limitBytes) throw tooLarge(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw tooLarge(limitBytes);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function tooLarge(limit: number): DomainError {
  return new DomainError("TOO_LARGE", `request body is larger than ${limit} bytes`, { hint: "send a smaller body" });
}

export async function readJson(req: IncomingMessage, limitBytes = 1 << 20): Promise<unknown> {
  const buf = await readBody(req, limitBytes);
  if (buf.length === 0) return {};
  try {
    return JSON.parse(buf.toString("utf8"));
  } catch (e) {
    throw new InputInvalid(`request body is not valid JSON: ${(e as Error).message}`);
  }
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Throws Unauthorized unless the request carries `Authorization: Bearer <expected>`. */
export function requireBearer(req: IncomingMessage, expected: string): void {
  const got = bearerToken(req);
  if (!got || !safeEqual(got, expected)) throw new Unauthorized("missing or wrong bearer token");
}
