/** GET /health: what an operator (and `mcp check`) needs to judge the service at a glance. */

import type { TokenStatus } from "../auth.js";
import type { Clock } from "../clock.js";
import { addDays } from "../clock.js";
import type { Metrics } from "../metrics.js";
import { dueDate, openDaysBehind } from "../scheduler/plan.js";
import type { Scheduler, SchedulerStatus, SeedingStatus } from "../scheduler/scheduler.js";
import { TOOL_NAMES } from "../tools.js";
import type { Warehouse } from "../warehouse/db.js";
import { openDays, stats } from "../warehouse/read.js";

export interface HealthDeps {
  wh: Warehouse;
  clock: Clock;
  metrics: Metrics;
  scheduler: Scheduler | undefined;
  afterCloseMin: number;
  exchange: string;
  /** The bearer tokens file's state: a bad file degrades the service and says why. */
  tokenStatus?: () => TokenStatus;
}

export interface Health {
  status: "ok" | "degraded";
  service: "mcp-tushare";
  now: string;
  tools: { count: number; names: string[] };
  trade_cal: { last_refresh: string | null; age_seconds: number | null; newest_cal_date: string | null };
  daily: { newest_trade_date: string | null; rows: number; stocks: number };
  data_lag: { expected_trade_date: string | null; open_days_behind: number | null };
  scheduler: (SchedulerStatus & { enabled: true }) | { enabled: false; state: "disabled" };
  /** The first backfill: answers given while `seeding` come from a warehouse still filling (as of `as_of`). */
  seeding: SeedingStatus & { as_of: string | null };
  tokens?: TokenStatus;
}

/** The warehouse's readiness as the tools and /health report it (a disabled scheduler never seeds: ready). */
export function seedingOf(scheduler: Scheduler | undefined, newestDaily: string | null): Health["seeding"] {
  const s: SeedingStatus = scheduler?.seeding() ?? { state: "ready", days_done: 0, days_total: 0 };
  return { ...s, as_of: newestDaily };
}

export async function health(d: HealthDeps): Promise<Health> {
  const now = d.clock.now();
  const s = await stats(d.wh);
  const due = dueDate(now, d.afterCloseMin);
  const recent = await openDays(d.wh, d.exchange, addDays(due, -40), due);
  let expected = recent[recent.length - 1] ?? null;
  if (expected === null) {
    const older = await openDays(d.wh, d.exchange, "00000000", due);
    expected = older[older.length - 1] ?? null;
  }
  let behind: number | null = null;
  if (expected !== null) {
    const between = s.newest_daily ? await openDays(d.wh, d.exchange, addDays(s.newest_daily, 1), expected) : recent;
    behind = openDaysBehind(between, s.newest_daily, expected);
  }
  const age = s.trade_cal_refreshed_at ? Math.round((now - Date.parse(s.trade_cal_refreshed_at)) / 1000) : null;
  const sched = d.scheduler
    ? { enabled: true as const, ...d.scheduler.status() }
    : { enabled: false as const, state: "disabled" as const };
  if (s.newest_daily) d.metrics.newestDaily.set(Number(s.newest_daily));
  if (behind !== null) d.metrics.dataLag.set(behind);
  if (s.trade_cal_refreshed_at) d.metrics.calRefreshed.set(Date.parse(s.trade_cal_refreshed_at) / 1000);
  const failing = sched.enabled && sched.consecutive_failures > 0;
  const tokens = d.tokenStatus?.();
  const seeding = seedingOf(d.scheduler, s.newest_daily);
  return {
    status:
      failing || behind === null || behind > 1 || !sched.enabled || tokens?.ok === false || seeding.state === "seeding"
        ? "degraded"
        : "ok",
    service: "mcp-tushare",
    now: new Date(now).toISOString(),
    tools: { count: TOOL_NAMES.length, names: [...TOOL_NAMES] },
    trade_cal: { last_refresh: s.trade_cal_refreshed_at, age_seconds: age, newest_cal_date: s.newest_cal_date },
    daily: { newest_trade_date: s.newest_daily, rows: s.daily_rows, stocks: s.stocks },
    data_lag: { expected_trade_date: expected, open_days_behind: behind },
    scheduler: sched,
    seeding,
    ...(tokens ? { tokens } : {}),
  };
}
