/**
 * The Tushare Pro HTTP client: POST `{api_name, token, params, fields}`, answer `{code, msg, data: {fields, items}}`.
 * Errors are typed by message (see errors.ts); per-minute limits are waited out and retried with backoff, nothing else
 * is retried here (a failed scheduler run is retried by the next run). The token never reaches a log line or an error.
 */
import type { Logger } from "@twilight/core";
import { UpstreamError } from "@twilight/core";
import { type Clock, sleep as realSleep, systemClock } from "../clock.js";
import { classifyTushareMsg, TushareError } from "./errors.js";
import { RateLimiter } from "./ratelimit.js";
import type { TushareApi, TushareParams, TushareResponse, TushareTable } from "./types.js";

export interface TushareClientOptions {
  url: string;
  token: string;
  /** Calls per minute per API we allow ourselves (default 200, the lowest account level's `daily` limit). */
  perMinute?: number;
  /** Retries of a per-minute limit answer (default 5). */
  maxRetries?: number;
  /** First backoff after a per-minute limit answer; doubles each retry, capped at 60 s (default 15 s). */
  retryBaseMs?: number;
  timeoutMs?: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
  log?: Logger;
  /** Called once per HTTP exchange with its outcome (metrics). */
  onCall?: (api: string, outcome: string) => void;
}

export class TushareClient implements TushareApi {
  readonly source = "tushare" as const;
  private readonly limiter: RateLimiter;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: TushareClientOptions) {
    this.sleep = opts.sleep ?? realSleep;
    this.limiter = new RateLimiter({ perMinute: opts.perMinute ?? 200, clock: opts.clock ?? systemClock, sleep: this.sleep });
  }

  async query(api: string, params: TushareParams, fields?: readonly string[]): Promise<TushareTable> {
    const maxRetries = this.opts.maxRetries ?? 5;
    for (let attempt = 0; ; attempt++) {
      await this.limiter.acquire(api);
      try {
        return await this.once(api, params, fields);
      } catch (e) {
        if (!(e instanceof TushareError) || e.kind !== "rate_minute" || attempt >= maxRetries) throw e;
        const wait = Math.min(60_000, (this.opts.retryBaseMs ?? 15_000) * 2 ** attempt);
        this.opts.log?.warn({ api, attempt: attempt + 1, wait_ms: wait }, "tushare per-minute limit reached; waiting to retry");
        await this.sleep(wait);
      }
    }
  }

  private async once(api: string, params: TushareParams, fields?: readonly string[]): Promise<TushareTable> {
    const body = JSON.stringify({ api_name: api, token: this.opts.token, params, fields: fields?.join(",") ?? "" });
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (e) {
      this.opts.onCall?.(api, "network");
      throw new UpstreamError("tushare", `${api}: request to ${this.opts.url} failed: ${(e as Error).message}`, {
        hint: "check TUSHARE_URL and the network; the scheduler tries again on its next run",
        retryable: true,
      });
    }
    const text = await res.text();
    if (!res.ok) {
      this.opts.onCall?.(api, `http_${res.status}`);
      throw new TushareError("upstream", api, `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    let parsed: TushareResponse;
    try {
      parsed = JSON.parse(text) as TushareResponse;
    } catch {
      this.opts.onCall?.(api, "bad_json");
      throw new TushareError("upstream", api, `answer is not JSON: ${text.slice(0, 120)}`);
    }
    if (parsed.code !== 0) {
      const kind = classifyTushareMsg(String(parsed.msg ?? ""));
      this.opts.onCall?.(api, kind);
      throw new TushareError(kind, api, String(parsed.msg ?? `code ${parsed.code}`), parsed.code);
    }
    const data = parsed.data;
    if (!data || !Array.isArray(data.fields) || !Array.isArray(data.items)) {
      this.opts.onCall?.(api, "bad_shape");
      throw new TushareError("upstream", api, "answer has no data.fields / data.items");
    }
    this.opts.onCall?.(api, "ok");
    return data;
  }
}
