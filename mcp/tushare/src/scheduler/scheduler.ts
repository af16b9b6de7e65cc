/**
 * The backfill scheduler: after the close (Asia/Shanghai) it refreshes trade_cal, stock_basic, then backfills daily bars
 * for the watch list and fundamentals per report period. Each run is recorded in `scheduler_runs` with its status,
 * counts and errors; a step that fails does not stop the others, a failed run does not stop the next one.
 * The clock is injected: tests call tick()/runOnce() with a manual clock instead of waiting.
 */
import { Conflict, type Logger, Unavailable } from "@twilight/core";
import { type Clock, minusYears } from "../clock.js";
import type { TushareApi, TushareParams } from "../tushare/types.js";
import type { Warehouse } from "../warehouse/db.js";
import { type RunRow, recentRuns, seededAt } from "../warehouse/read.js";
import { abortStaleRuns, finishRun, markSeeded, type RunCounts, startRun } from "../warehouse/write.js";
import { dueDate, isRunDue, type LastRun, nextDueAt } from "./plan.js";
import { backfillDaily, backfillFundamentals, refreshStockBasic, refreshTradeCal, type StepContext } from "./steps.js";

export const STEPS = ["trade_cal", "stock_basic", "daily", "fundamentals"] as const;
export type Step = (typeof STEPS)[number];

export interface SchedulerOptions {
  wh: Warehouse;
  api: TushareApi;
  clock: Clock;
  log: Logger;
  watch: readonly string[];
  /** How far back a first run backfills (default 2 years). */
  years: number;
  /** Overrides the window start (the embedded fixture starts in 2023). */
  windowStart?: string;
  /** Shanghai minute of day after which a day's data is due (16:30 -> 990). */
  afterCloseMin: number;
  retryFailedMs: number;
  tickMs: number;
  exchange?: string;
  recheckDays?: number;
  onRunFinished?: (run: RunRow) => void;
  onDay?: (tradeDate: string, rows: number) => void;
}

export type SchedulerState = "idle" | "running" | "stopped";

/**
 * The warehouse's first backfill: `seeding` until a run has completed the daily step once (then `ready` for good);
 * while seeding, how many of the days planned so far are in.
 */
export interface SeedingStatus {
  state: "seeding" | "ready";
  days_done: number;
  days_total: number | null;
}

export interface SchedulerStatus {
  state: SchedulerState;
  source: string;
  watch: readonly string[];
  last_run: RunRow | null;
  last_success_at: string | null;
  consecutive_failures: number;
  next_due_at: string | null;
}

export class Scheduler {
  private state: SchedulerState = "stopped";
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<RunRow> | undefined;
  private stopping = false;
  private last: RunRow | null = null;
  private lastSuccessAt: string | null = null;
  private failures = 0;
  private seeded = false;
  private seedDone = 0;
  private seedTotal: number | null = null;

  constructor(private readonly o: SchedulerOptions) {}

  /** Close runs a dead process left open, remember the latest run, and tick every `tickMs`. */
  async init(): Promise<void> {
    const n = await abortStaleRuns(this.o.wh, new Date(this.o.clock.now()).toISOString());
    if (n) this.o.log.warn({ runs: n }, "closed scheduler runs left open by an earlier process as aborted");
    const runs = await recentRuns(this.o.wh, 50);
    this.last = runs[0] ?? null;
    this.lastSuccessAt = runs.find((r) => r.status === "ok")?.started_at ?? null;
    this.failures = runs.findIndex((r) => r.status === "ok");
    if (this.failures < 0) this.failures = runs.length;
    // The meta record is the truth; the run history covers warehouses seeded before it was written.
    this.seeded = (await seededAt(this.o.wh)) !== null || runs.some((r) => dailyCompleted(r));
    this.state = "idle";
  }

  seeding(): SeedingStatus {
    return this.seeded
      ? { state: "ready", days_done: 0, days_total: 0 }
      : { state: "seeding", days_done: this.seedDone, days_total: this.seedTotal };
  }

  start(): void {
    if (this.timer) return;
    this.stopping = false;
    if (this.state === "stopped") this.state = "idle";
    this.timer = setInterval(() => void this.tick(), this.o.tickMs);
    this.timer.unref();
    setImmediate(() => void this.tick());
  }

  /** Stop ticking; a run in progress stops between days and is recorded as failed ("stopped"). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopping = true;
    await this.current?.catch(() => undefined);
    this.state = "stopped";
  }

  private lastRunInfo(): LastRun | null {
    return this.last ? { startedAt: Date.parse(this.last.started_at), status: this.last.status } : null;
  }

  /** Start a run if one is due. Never throws. */
  async tick(): Promise<RunRow | undefined> {
    if (this.current || this.stopping) return undefined;
    const due = isRunDue({
      now: this.o.clock.now(),
      afterCloseMin: this.o.afterCloseMin,
      last: this.lastRunInfo(),
      retryFailedMs: this.o.retryFailedMs,
    });
    if (!due) return undefined;
    try {
      return await this.runOnce("schedule");
    } catch (e) {
      this.o.log.error({ err: e }, "scheduler run could not be recorded");
      return undefined;
    }
  }

  /** One run now. Refuses (Conflict) while another run is in progress. */
  runOnce(trigger: string, steps: readonly Step[] = STEPS): Promise<RunRow> {
    if (this.current) return Promise.reject(new Conflict("a scheduler run is already in progress", { retryable: true }));
    const p = this.execute(trigger, steps).finally(() => {
      this.current = undefined;
      if (this.state === "running") this.state = this.stopping ? "stopped" : "idle";
    });
    this.current = p;
    return p;
  }

  private async execute(trigger: string, steps: readonly Step[]): Promise<RunRow> {
    const o = this.o;
    const startedAt = new Date(o.clock.now()).toISOString();
    const runId = await startRun(o.wh, { trigger, source: o.api.source, steps: steps.join(","), at: startedAt });
    this.state = "running";
    this.last = { ...this.emptyRun(runId, trigger, steps, startedAt) };
    const counts: RunCounts = {
      trade_cal_rows: 0,
      stock_rows: 0,
      daily_days: 0,
      daily_rows: 0,
      fundamentals_rows: 0,
      tushare_calls: 0,
    };
    const api: TushareApi = {
      source: o.api.source,
      query: (name: string, params: TushareParams, fields?: readonly string[]) => {
        counts.tushare_calls++;
        return o.api.query(name, params, fields);
      },
    };
    const due = dueDate(o.clock.now(), o.afterCloseMin);
    const ctxLog = o.log.child({ run: runId });
    const ctx: StepContext = {
      wh: o.wh,
      api,
      log: ctxLog,
      exchange: o.exchange ?? "SSE",
      watch: o.watch,
      windowStart: o.windowStart ?? minusYears(due, o.years),
      due,
      runId,
      nowIso: () => new Date(o.clock.now()).toISOString(),
      checkpoint: () => {
        if (this.stopping) throw new Unavailable("the scheduler is stopping");
      },
      onPlan: (days) => {
        if (this.seeded) return;
        this.seedTotal = this.seedDone + days;
      },
      onDay: (d, rows) => {
        if (!this.seeded) this.seedDone++;
        counts.daily_days++;
        counts.daily_rows += rows;
        ctxLog.debug({ trade_date: d, rows }, "daily day committed");
        o.onDay?.(d, rows);
      },
    };
    const errors: string[] = [];
    for (const step of steps) {
      try {
        if (step === "trade_cal") counts.trade_cal_rows = await refreshTradeCal(ctx);
        else if (step === "stock_basic") counts.stock_rows = await refreshStockBasic(ctx);
        else if (step === "daily") {
          await backfillDaily(ctx);
          if (!this.seeded) await markSeeded(o.wh, ctx.nowIso());
          this.seeded = true;
        } else counts.fundamentals_rows = await backfillFundamentals(ctx, o.recheckDays ?? 7);
      } catch (e) {
        errors.push(`${step}: ${(e as Error).message}`);
        ctx.log.error({ err: e, step }, "scheduler step failed");
        if (this.stopping) break;
      }
    }
    const finishedAt = new Date(o.clock.now()).toISOString();
    const status = errors.length === 0 ? "ok" : this.stopping ? "aborted" : "failed";
    const error = errors.length ? errors.join("; ") : null;
    await finishRun(o.wh, runId, { status, at: finishedAt, counts, error });
    const run: RunRow = { ...this.emptyRun(runId, trigger, steps, startedAt), ...counts, status, finished_at: finishedAt, error };
    this.last = run;
    if (status === "ok") {
      this.lastSuccessAt = startedAt;
      this.failures = 0;
    } else this.failures++;
    ctx.log.info({ status, ...counts, error }, "scheduler run finished");
    o.onRunFinished?.(run);
    return run;
  }

  private emptyRun(id: number, trigger: string, steps: readonly Step[], startedAt: string): RunRow {
    return {
      id,
      trigger,
      source: this.o.api.source,
      steps: steps.join(","),
      started_at: startedAt,
      finished_at: null,
      status: "running",
      trade_cal_rows: 0,
      stock_rows: 0,
      daily_days: 0,
      daily_rows: 0,
      fundamentals_rows: 0,
      tushare_calls: 0,
      error: null,
    };
  }

  status(): SchedulerStatus {
    const now = this.o.clock.now();
    const next =
      this.state === "stopped"
        ? null
        : new Date(
            nextDueAt({
              now,
              afterCloseMin: this.o.afterCloseMin,
              last: this.lastRunInfo(),
              retryFailedMs: this.o.retryFailedMs,
            }),
          ).toISOString();
    return {
      state: this.state,
      source: this.o.api.source,
      watch: this.o.watch,
      last_run: this.last,
      last_success_at: this.lastSuccessAt,
      consecutive_failures: this.failures,
      next_due_at: next,
    };
  }
}

/** A run that got through its daily step (an ok run, or a failed one whose error names another step). */
function dailyCompleted(r: RunRow): boolean {
  if (!r.steps.split(",").includes("daily")) return false;
  if (r.status === "ok") return true;
  return r.status === "failed" && r.finished_at !== null && !(r.error ?? "").includes("daily:");
}
