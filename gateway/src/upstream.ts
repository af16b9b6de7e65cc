/**
 * The real OpenAI-compatible upstream client (SiliconFlow or any `/v1/chat/completions` server): keep-alive HTTP(S),
 * bounded retries on 429, 5xx and refused/reset connections with full-jitter exponential backoff, honouring the
 * upstream's Retry-After (a 429 also pauses the whole gateway through `onRateLimited`). Retries happen only before any
 * byte reached the caller, so a streamed answer is never sent twice.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { type DomainError, Unavailable, UpstreamError } from "@twilight/core";

export interface UpstreamSecret {
  baseUrl: string;
  apiKey: string;
}

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  baseMs: number;
  maxMs: number;
  /** A Retry-After longer than this is not waited for: the caller gets the error at once. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, baseMs: 200, maxMs: 4_000, maxRetryAfterMs: 10_000 };

export interface UpstreamResponse {
  status: number;
  headers: IncomingMessage["headers"];
  body: IncomingMessage;
  attempts: number;
}

export interface UpstreamOptions {
  secret: () => UpstreamSecret;
  retry?: RetryPolicy;
  timeoutMs?: number;
  onRateLimited?: (untilMs: number) => void;
  onRetry?: (reason: string) => void;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Retry-After as seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(v: string | string[] | undefined, now = Date.now()): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  if (/^\d+(\.\d+)?$/.test(s.trim())) return Math.round(Number(s) * 1000);
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

/** Full jitter: a random wait in [0, min(max, base * 2^attempt)]. */
export function backoffMs(p: RetryPolicy, attempt: number, random: () => number): number {
  return Math.floor(random() * Math.min(p.maxMs, p.baseMs * 2 ** attempt));
}

const RETRY_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EAI_AGAIN"]);

export class UpstreamClient {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 256 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 256 });
  private readonly retry: RetryPolicy;

  constructor(private readonly o: UpstreamOptions) {
    this.retry = o.retry ?? DEFAULT_RETRY;
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  /** GET or POST `path` (relative to the base URL, e.g. "chat/completions"), retrying as the policy says. */
  async send(method: "GET" | "POST", path: string, body?: Buffer, signal?: AbortSignal): Promise<UpstreamResponse> {
    const sleep = this.o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const random = this.o.random ?? Math.random;
    let last: { status?: number; error?: string; retryAfterMs?: number } = {};
    for (let attempt = 0; attempt <= this.retry.retries; attempt++) {
      let r: UpstreamResponse | undefined;
      try {
        r = await this.once(method, path, body, signal);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? "";
        if (signal?.aborted || !RETRY_CODES.has(code)) throw this.fail(String((e as Error).message), {});
        last = { error: code };
      }
      if (r) {
        r.attempts = attempt + 1;
        if (r.status !== 429 && r.status < 500) return r;
        const retryAfterMs = parseRetryAfter(r.headers["retry-after"]);
        last = { status: r.status, retryAfterMs };
        r.body.resume();
        if (r.status === 429) this.o.onRateLimited?.(Date.now() + (retryAfterMs ?? backoffMs(this.retry, attempt, random)));
        if (retryAfterMs !== undefined && retryAfterMs > this.retry.maxRetryAfterMs) break;
      }
      if (attempt === this.retry.retries) break;
      this.o.onRetry?.(last.status ? String(last.status) : (last.error ?? "error"));
      await sleep(last.retryAfterMs ?? backoffMs(this.retry, attempt, random));
    }
    throw this.fail(
      last.status === 429
        ? "the upstream model service is rate limiting the platform"
        : `the upstream model service failed (${last.status ?? last.error})`,
      last,
    );
  }

  /** 429 after the retries: 503 (the platform's shared rate, not the caller's); anything else: 502. */
  private fail(message: string, last: { status?: number; retryAfterMs?: number }): DomainError {
    const opts = {
      retryable: true,
      hint: "try again shortly; the operator can check `hermes-admin gateway status`",
      details: {
        ...(last.status ? { upstream_status: last.status } : {}),
        ...(last.retryAfterMs !== undefined ? { retry_after_seconds: Math.ceil(last.retryAfterMs / 1000) } : {}),
      },
    };
    return last.status === 429
      ? new Unavailable(`model upstream: ${message}`, opts)
      : new UpstreamError("model upstream", message, opts);
  }

  private once(method: string, path: string, body: Buffer | undefined, signal?: AbortSignal): Promise<UpstreamResponse> {
    const s = this.o.secret();
    const url = new URL(path, s.baseUrl.endsWith("/") ? s.baseUrl : `${s.baseUrl}/`);
    const tls = url.protocol === "https:";
    return new Promise((resolve, reject) => {
      const req = (tls ? httpsRequest : httpRequest)(
        url,
        {
          method,
          agent: tls ? this.https : this.http,
          headers: {
            authorization: `Bearer ${s.apiKey}`,
            accept: "application/json, text/event-stream",
            ...(body ? { "content-type": "application/json", "content-length": body.length } : {}),
          },
          signal,
          timeout: this.o.timeoutMs ?? 120_000,
        },
        (res) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: res, attempts: 1 }),
      );
      req.setNoDelay(true);
      req.on("timeout", () => req.destroy(Object.assign(new Error("upstream timed out"), { code: "ETIMEDOUT" })));
      req.on("error", reject);
      req.end(body);
    });
  }
}
