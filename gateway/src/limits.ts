/**
 * Per-profile limit accounting, pure and clock-injected. Windows: requests and tokens over the last 60 s (sliding log),
 * tokens per UTC day and spend per UTC month (seeded from the meter at first sight of a profile, so a restart keeps them).
 * `check` says which limit a new request would break and when to retry; `admit` and `settle` record what happened.
 */
import type { PlanLimits } from "./policy.js";

export type LimitName = "rpm" | "tpm" | "tpd" | "spend" | "concurrency";

export interface Refusal {
  limit: LimitName;
  /** Seconds until the limit can admit again (>= 1), for Retry-After. */
  retryAfter: number;
  limitValue: number;
  used: number;
}

export interface Totals {
  dayTokens: number;
  monthMillifen: number;
}

interface State {
  requests: number[];
  tokens: { t: number; n: number }[];
  day: string;
  month: string;
  dayTokens: number;
  monthMillifen: number;
}

const MINUTE = 60_000;
let memo = { second: -1, iso: "" };
/** ISO date-time of `t`, computed once per second (this is on every request's path). */
function iso(t: number): string {
  const second = Math.floor(t / 1000);
  if (second !== memo.second) memo = { second, iso: new Date(t).toISOString() };
  return memo.iso;
}
export const utcDay = (t: number) => iso(t).slice(0, 10);
const utcMonth = (t: number) => iso(t).slice(0, 7);

function untilNextDay(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) - t;
}
function untilNextMonth(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - t;
}
const secs = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export class Limiter {
  private readonly states = new Map<string, State>();

  constructor(
    private readonly seed: (profile: string, day: string, month: string) => Totals,
    private readonly now: () => number = Date.now,
  ) {}

  private state(profile: string): State {
    const t = this.now();
    const day = utcDay(t);
    const month = utcMonth(t);
    let s = this.states.get(profile);
    if (!s || s.day !== day || s.month !== month) {
      const seeded = this.seed(profile, day, month);
      s = { requests: s?.requests ?? [], tokens: s?.tokens ?? [], day, month, ...seeded };
      this.states.set(profile, s);
    }
    const cut = t - MINUTE;
    while (s.requests.length && (s.requests[0] as number) <= cut) s.requests.shift();
    while (s.tokens.length && (s.tokens[0] as { t: number }).t <= cut) s.tokens.shift();
    return s;
  }

  /** The first limit a new request would break, or null. */
  check(profile: string, l: PlanLimits): Refusal | null {
    const s = this.state(profile);
    const t = this.now();
    if (s.monthMillifen >= l.monthlyFen * 1000)
      return {
        limit: "spend",
        retryAfter: secs(untilNextMonth(t)),
        limitValue: l.monthlyFen,
        used: Math.floor(s.monthMillifen / 1000),
      };
    if (s.dayTokens >= l.tpd) return { limit: "tpd", retryAfter: secs(untilNextDay(t)), limitValue: l.tpd, used: s.dayTokens };
    if (s.requests.length >= l.rpm) {
      const oldest = s.requests[s.requests.length - l.rpm] as number;
      return { limit: "rpm", retryAfter: secs(oldest + MINUTE - t), limitValue: l.rpm, used: s.requests.length };
    }
    const minuteTokens = s.tokens.reduce((a, x) => a + x.n, 0);
    if (minuteTokens >= l.tpm) {
      // wait until enough of the window has slid out to fall below the limit
      let left = minuteTokens;
      let at = t;
      for (const x of s.tokens) {
        left -= x.n;
        at = x.t + MINUTE;
        if (left < l.tpm) break;
      }
      return { limit: "tpm", retryAfter: secs(at - t), limitValue: l.tpm, used: minuteTokens };
    }
    return null;
  }

  /** A request was let through (counts toward rpm). */
  admit(profile: string): void {
    this.state(profile).requests.push(this.now());
  }

  /** A request finished: its tokens and cost count toward tpm, tpd and the month's spend. */
  settle(profile: string, tokens: number, millifen: number): void {
    const s = this.state(profile);
    s.tokens.push({ t: this.now(), n: tokens });
    s.dayTokens += tokens;
    s.monthMillifen += millifen;
  }
}
