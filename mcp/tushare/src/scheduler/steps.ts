/**
 * The four steps of a scheduler run, each a function of the Tushare seam and the warehouse:
 * trade_cal refresh, stock_basic refresh, incremental daily backfill (whole days), fundamentals per report period.
 */
import { DailyBar, Fundamentals, type Logger, StockBasic, TradeCalDay } from "@twilight/core";
import type { z } from "zod";
import { FIELDS, rowsOf, type TushareApi } from "../tushare/types.js";
import type { Warehouse } from "../warehouse/db.js";
import { finaState, loadedPairs, openDays } from "../warehouse/read.js";
import { upsertFundamentals, upsertStockBasic, upsertTradeCal, writeDay } from "../warehouse/write.js";
import { planDaily, planFundamentals, reportPeriods } from "./plan.js";

export interface StepContext {
  wh: Warehouse;
  api: TushareApi;
  log: Logger;
  exchange: string;
  watch: readonly string[];
  windowStart: string;
  due: string;
  runId: number;
  nowIso: () => string;
  /** Throws when the run should stop between days (service shutting down). */
  checkpoint: () => void;
  onDay?: (tradeDate: string, rows: number) => void;
  /** How many trading days the daily backfill is about to fetch (its progress is then counted by onDay). */
  onPlan?: (days: number) => void;
}

const NUMERIC_DAILY = ["open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"] as const;

function typed<S extends z.ZodTypeAny>(schema: S, rows: Record<string, unknown>[], what: string, log: Logger): z.infer<S>[] {
  const out: z.infer<S>[] = [];
  for (const r of rows) {
    const p = schema.safeParse(r);
    if (p.success) out.push(p.data);
    else log.warn({ what, row: r, issue: p.error.issues[0]?.message }, "skipping a malformed Tushare row");
  }
  return out;
}

const num = (v: unknown): unknown => (v === null || v === undefined || v === "" ? null : Number(v));
const text = (v: unknown): unknown => (v === null || v === undefined ? null : String(v));

export async function refreshTradeCal(ctx: StepContext): Promise<number> {
  const end = `${Number(ctx.due.slice(0, 4)) + 1}1231`;
  const t = await ctx.api.query(
    "trade_cal",
    { exchange: ctx.exchange, start_date: ctx.windowStart, end_date: end },
    FIELDS.trade_cal,
  );
  const rows = typed(
    TradeCalDay,
    rowsOf(t).map((r) => ({ ...r, cal_date: text(r.cal_date), pretrade_date: text(r.pretrade_date), is_open: num(r.is_open) })),
    "trade_cal",
    ctx.log,
  );
  await upsertTradeCal(ctx.wh, rows, ctx.nowIso());
  return rows.length;
}

export async function refreshStockBasic(ctx: StepContext): Promise<number> {
  const t = await ctx.api.query("stock_basic", { list_status: "L" }, FIELDS.stock_basic);
  const rows = typed(
    StockBasic,
    rowsOf(t).map((r) => ({ ...r, symbol: text(r.symbol), list_date: text(r.list_date) })),
    "stock_basic",
    ctx.log,
  );
  await upsertStockBasic(ctx.wh, rows, ctx.nowIso());
  return rows.length;
}

/** Backfill the missing (day, stock) pairs. A day that no stock has a bar for yet is left for a later run. */
export async function backfillDaily(ctx: StepContext): Promise<{ days: number; rows: number }> {
  const days = await openDays(ctx.wh, ctx.exchange, ctx.windowStart, ctx.due);
  const loaded = await loadedPairs(ctx.wh, ctx.windowStart, ctx.due);
  const plan = planDaily({ openDays: days, watch: ctx.watch, loaded });
  ctx.onPlan?.(plan.days.length);
  if (plan.days.length === 0) return { days: 0, rows: 0 };
  const byDay = new Map<string, DailyBar[]>();
  for (const f of plan.fetches) {
    const t = await ctx.api.query("daily", { ...f }, FIELDS.daily);
    const raw = rowsOf(t).map((r) => ({
      ...r,
      trade_date: text(r.trade_date),
      ...Object.fromEntries(NUMERIC_DAILY.map((k) => [k, num(r[k])])),
    }));
    for (const bar of typed(DailyBar, raw, "daily", ctx.log)) {
      if (bar.ts_code !== f.ts_code) continue;
      const list = byDay.get(bar.trade_date) ?? [];
      list.push(bar);
      byDay.set(bar.trade_date, list);
    }
  }
  let written = 0;
  let rows = 0;
  for (const d of plan.days) {
    ctx.checkpoint();
    const bars = (byDay.get(d.trade_date) ?? []).filter((b) => d.codes.includes(b.ts_code));
    if (bars.length === 0) continue;
    await writeDay(ctx.wh, { tradeDate: d.trade_date, codes: d.codes, bars, runId: ctx.runId, at: ctx.nowIso() });
    written++;
    rows += bars.length;
    ctx.onDay?.(d.trade_date, bars.length);
  }
  return { days: written, rows };
}

const NUMERIC_FINA = FIELDS.fina_indicator.filter((f) => !["ts_code", "ann_date", "end_date"].includes(f));

export async function backfillFundamentals(ctx: StepContext, recheckDays: number): Promise<number> {
  const state = await finaState(ctx.wh);
  const todo = planFundamentals({
    codes: ctx.watch,
    periods: reportPeriods(ctx.windowStart, ctx.due),
    stored: state.stored,
    checked: state.checked,
    today: ctx.due,
    recheckDays,
  });
  let stored = 0;
  for (const item of todo) {
    ctx.checkpoint();
    const t = await ctx.api.query("fina_indicator", { ts_code: item.ts_code, period: item.period }, FIELDS.fina_indicator);
    const raw = rowsOf(t).map((r) => ({
      ...r,
      ann_date: text(r.ann_date),
      end_date: text(r.end_date),
      ...Object.fromEntries(NUMERIC_FINA.map((k) => [k, num(r[k])])),
    }));
    const rows = typed(Fundamentals, raw, "fina_indicator", ctx.log).filter(
      (r) => r.ts_code === item.ts_code && r.end_date === item.period,
    );
    await upsertFundamentals(ctx.wh, rows.slice(0, 1), [{ ...item, end_date: item.period, found: rows.length > 0 }], ctx.due);
    stored += Math.min(rows.length, 1);
  }
  return stored;
}
