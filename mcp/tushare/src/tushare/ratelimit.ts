/**
 * A sliding-window limiter per API name: at most `perMinute` calls in any 60 s. Clock and sleep are injected so the
 * unit test runs without waiting.
 */
import { type Clock, sleep as realSleep, systemClock } from "../clock.js";

export interface RateLimiterOptions {
  perMinute: number;
  windowMs?: number;
  clock?: Clock;
  sleep?: (ms: number) => Promise<void>;
}

export class RateLimiter {
  private readonly calls = new Map<string, number[]>();
  private readonly windowMs: number;
  private readonly clock: Clock;
  private readonly sleep: (ms: number) => Promise<void>;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly opts: RateLimiterOptions) {
    if (!(opts.perMinute >= 1)) throw new Error("perMinute must be at least 1");
    this.windowMs = opts.windowMs ?? 60_000;
    this.clock = opts.clock ?? systemClock;
    this.sleep = opts.sleep ?? realSleep;
  }

  /** How long a call to `api` made now would have to wait (0 = go). Pure with respect to the recorded calls. */
  waitMs(api: string, now = this.clock.now()): number {
    const recent = (this.calls.get(api) ?? []).filter((t) => t > now - this.windowMs);
    this.calls.set(api, recent);
    if (recent.length < this.opts.perMinute) return 0;
    const oldest = recent[recent.length - this.opts.perMinute] as number;
    return Math.max(1, oldest + this.windowMs - now);
  }

  /** Wait for a slot, then record the call. Calls are serialised so concurrent callers cannot overrun the window. */
  acquire(api: string): Promise<void> {
    const next = this.chain.then(async () => {
      for (let i = 0; i < 10_000; i++) {
        const w = this.waitMs(api);
        if (w === 0) break;
        await this.sleep(w);
      }
      const list = this.calls.get(api) ?? [];
      list.push(this.clock.now());
      this.calls.set(api, list);
    });
    this.chain = next.catch(() => undefined);
    return next;
  }
}
