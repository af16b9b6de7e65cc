/**
 * What the scheduler should do, as pure functions of the clock and of what the warehouse holds: when a run is due,
 * which (day, stock) pairs are missing, which report periods to ask for, how far behind the data is.
 */
import { addDays, shanghaiInstant, shanghaiParts } from "../clock.js";

const DAY_MS = 86_400_000;

/** The Shanghai date whose closing data should be out at `now`: today after the close time, else yesterday. */
export function dueDate(now: number, afterCloseMin: number): string {
  const { date, minuteOfDay } = shanghaiParts(now);
  return minuteOfDay >= afterCloseMin ? date : addDays(date, -1);
}

/** The latest after-close instant at or before `now`. */
export function lastCloseInstant(now: number, afterCloseMin: number): number {
  return shanghaiInstant(dueDate(now, afterCloseMin), afterCloseMin);
}

export interface LastRun {
  startedAt: number;
  status: string;
}

/**
 * A run is due when none has started since the latest after-close instant, or when the last one failed and
 * `retryFailedMs` has passed since it started (a failed run never stops the next one).
 */
export function isRunDue(o: { now: number; afterCloseMin: number; last: LastRun | null; retryFailedMs: number }): boolean {
  if (!o.last) return true;
  if (o.last.status === "running") return false;
  if (o.last.startedAt < lastCloseInstant(o.now, o.afterCloseMin)) return true;
  return o.last.status !== "ok" && o.now - o.last.startedAt >= o.retryFailedMs;
}

/** When the next run becomes due, for /health (ms since epoch). */
export function nextDueAt(o: { now: number; afterCloseMin: number; last: LastRun | null; retryFailedMs: number }): number {
  if (isRunDue(o)) return o.now;
  const nextClose = lastCloseInstant(o.now, o.afterCloseMin) + DAY_MS;
  if (o.last && o.last.status !== "ok" && o.last.status !== "running")
    return Math.min(nextClose, o.last.startedAt + o.retryFailedMs);
  return nextClose;
}

export interface DailyFetch {
  ts_code: string;
  start_date: string;
  end_date: string;
}
export interface DailyPlan {
  /** One request per stock covering its missing days. */
  fetches: DailyFetch[];
  /** Missing days, ascending, each with the stocks it lacks. */
  days: { trade_date: string; codes: string[] }[];
}

/** The (day, stock) pairs of open days in the window not yet loaded. `loaded` holds `date|code` keys. */
export function planDaily(o: { openDays: readonly string[]; watch: readonly string[]; loaded: ReadonlySet<string> }): DailyPlan {
  const days: DailyPlan["days"] = [];
  const span = new Map<string, { start: string; end: string }>();
  for (const day of [...o.openDays].sort()) {
    const codes = o.watch.filter((c) => !o.loaded.has(`${day}|${c}`));
    if (codes.length === 0) continue;
    days.push({ trade_date: day, codes });
    for (const c of codes) {
      const s = span.get(c);
      if (!s) span.set(c, { start: day, end: day });
      else s.end = day;
    }
  }
  const fetches = o.watch.flatMap((c) => {
    const s = span.get(c);
    return s ? [{ ts_code: c, start_date: s.start, end_date: s.end }] : [];
  });
  return { fetches, days };
}

/** Quarter ends (0331, 0630, 0930, 1231) in [start, end]. */
export function reportPeriods(start: string, end: string): string[] {
  const out: string[] = [];
  for (let y = Number(start.slice(0, 4)); y <= Number(end.slice(0, 4)); y++)
    for (const md of ["0331", "0630", "0930", "1231"]) {
      const p = `${y}${md}`;
      if (p >= start && p <= end) out.push(p);
    }
  return out;
}

/** Report periods to ask `fina_indicator` for: ended, not stored, and not checked in the last `recheckDays` days. */
export function planFundamentals(o: {
  codes: readonly string[];
  periods: readonly string[];
  stored: ReadonlySet<string>;
  checked: ReadonlyMap<string, string>;
  today: string;
  recheckDays: number;
}): { ts_code: string; period: string }[] {
  const recheckAfter = addDays(o.today, -o.recheckDays);
  const out: { ts_code: string; period: string }[] = [];
  for (const c of o.codes)
    for (const p of o.periods) {
      const key = `${c}|${p}`;
      if (p >= o.today || o.stored.has(key)) continue;
      const last = o.checked.get(key);
      if (last !== undefined && last > recheckAfter) continue;
      out.push({ ts_code: c, period: p });
    }
  return out;
}

/** Open days after `newest` up to and including `expected` (0 when up to date). `openDays` ascending. */
export function openDaysBehind(openDays: readonly string[], newest: string | null, expected: string): number {
  return openDays.filter((d) => (newest === null || d > newest) && d <= expected).length;
}
