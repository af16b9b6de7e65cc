/** Read queries: every one runs on a reader connection in a read-only transaction (Warehouse.read). */
import type { DailyBar, Fundamentals, StockBasic, TradeCalDay } from "@twilight/core";
import type { Row, SqlValue, Warehouse } from "./db.js";

const DAILY = "ts_code, trade_date, open, high, low, close, pre_close, change, pct_chg, vol, amount";
const FINA = `ts_code, ann_date, end_date, eps, dt_eps, roe, roe_dt, roa, grossprofit_margin, netprofit_yoy, or_yoy,
  debt_to_assets, current_ratio, quick_ratio, bps, profit_dedt`;
const STOCK = "ts_code, symbol, name, area, industry, market, list_date";

interface Where {
  sql: string;
  params: SqlValue[];
}
function where(parts: [string, SqlValue | undefined][]): Where {
  const used = parts.filter(([, v]) => v !== undefined) as [string, SqlValue][];
  return { sql: used.length ? `WHERE ${used.map(([c]) => c).join(" AND ")}` : "", params: used.map(([, v]) => v) };
}

export interface Paged<T> {
  rows: T[];
  total: number;
}

interface PageSpec {
  limit: number;
  offset: number;
  /** Count all matching rows too (default true; the tools skip it). */
  withTotal?: boolean;
}

async function paged<T>(wh: Warehouse, q: { select: string; from: string; w: Where; order: string } & PageSpec) {
  const rows = await wh.read(`SELECT ${q.select} FROM ${q.from} ${q.w.sql} ORDER BY ${q.order} LIMIT ? OFFSET ?`, [
    ...q.w.params,
    q.limit,
    q.offset,
  ]);
  let total = q.offset + rows.length;
  if (q.withTotal !== false) {
    const [count] = await wh.read(`SELECT COUNT(*) AS n FROM ${q.from} ${q.w.sql}`, q.w.params);
    total = Number(count?.n ?? 0);
  }
  return { rows: rows as unknown as T[], total };
}

export interface DailyQuery extends PageSpec {
  ts_code?: string;
  start_date?: string;
  end_date?: string;
}
/** Daily bars, newest first. */
export function dailyBars(wh: Warehouse, q: DailyQuery): Promise<Paged<DailyBar>> {
  const w = where([
    ["ts_code = ?", q.ts_code],
    ["trade_date >= ?", q.start_date],
    ["trade_date <= ?", q.end_date],
  ]);
  return paged<DailyBar>(wh, { select: DAILY, from: "r_stock_daily", w, order: "trade_date DESC, ts_code", ...q });
}

export async function latestBar(
  wh: Warehouse,
  tsCode: string,
  asOf?: string,
  opts: { cache?: boolean } = {},
): Promise<DailyBar | undefined> {
  const w = where([
    ["ts_code = ?", tsCode],
    ["trade_date <= ?", asOf],
  ]);
  const rows = await wh.read(`SELECT ${DAILY} FROM r_stock_daily ${w.sql} ORDER BY trade_date DESC LIMIT 1`, w.params, opts);
  return rows[0] as DailyBar | undefined;
}

export interface FinaQuery extends PageSpec {
  ts_code?: string;
  period?: string;
}
/** fina_indicator rows, newest period first. */
export function fundamentals(wh: Warehouse, q: FinaQuery): Promise<Paged<Fundamentals>> {
  const w = where([
    ["ts_code = ?", q.ts_code],
    ["end_date = ?", q.period],
  ]);
  return paged<Fundamentals>(wh, { select: FINA, from: "fina_indicator", w, order: "end_date DESC, ts_code", ...q });
}

export interface CalQuery extends PageSpec {
  exchange: string;
  start_date?: string;
  end_date?: string;
  is_open?: number;
}
export function tradeCal(wh: Warehouse, q: CalQuery): Promise<Paged<TradeCalDay>> {
  const w = where([
    ["exchange = ?", q.exchange],
    ["cal_date >= ?", q.start_date],
    ["cal_date <= ?", q.end_date],
    ["is_open = ?", q.is_open],
  ]);
  return paged<TradeCalDay>(wh, {
    select: "exchange, cal_date, is_open, pretrade_date",
    from: "trade_cal",
    w,
    order: "cal_date",
    ...q,
  });
}

/** Stocks whose code, symbol or name contains the query (a code-like query matches its normalised code exactly first). */
export function searchStocks(wh: Warehouse, q: { query?: string; exact?: string } & PageSpec): Promise<Paged<StockBasic>> {
  const like = q.query === undefined ? undefined : `%${q.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const w: Where = like
    ? {
        sql: "WHERE ts_code = ? OR ts_code ILIKE ? ESCAPE '\\' OR symbol ILIKE ? ESCAPE '\\' OR name ILIKE ? ESCAPE '\\'",
        params: [q.exact ?? "", like, like, like],
      }
    : { sql: "", params: [] };
  return paged<StockBasic>(wh, { select: STOCK, from: "stock_basic", w, order: "ts_code", ...q });
}

export async function stockByCode(wh: Warehouse, tsCode: string): Promise<StockBasic | undefined> {
  const rows = await wh.read(`SELECT ${STOCK} FROM stock_basic WHERE ts_code = ?`, [tsCode]);
  return rows[0] as StockBasic | undefined;
}

/** Open days of an exchange in [start, end], ascending. */
export async function openDays(wh: Warehouse, exchange: string, start: string, end: string): Promise<string[]> {
  const rows = await wh.read(
    "SELECT cal_date FROM trade_cal WHERE exchange = ? AND is_open = 1 AND cal_date BETWEEN ? AND ? ORDER BY cal_date",
    [exchange, start, end],
  );
  return rows.map((r) => String(r.cal_date));
}

/** `date|code` keys of the (day, stock) pairs already loaded in [start, end]. */
export async function loadedPairs(wh: Warehouse, start: string, end: string): Promise<Set<string>> {
  const rows = await wh.read("SELECT trade_date, ts_code FROM daily_loaded WHERE trade_date BETWEEN ? AND ?", [start, end]);
  return new Set(rows.map((r) => `${r.trade_date}|${r.ts_code}`));
}

export async function finaState(wh: Warehouse): Promise<{ stored: Set<string>; checked: Map<string, string> }> {
  const stored = await wh.read("SELECT ts_code, end_date FROM fina_indicator");
  const checked = await wh.read("SELECT ts_code, end_date, checked_on FROM fina_checked");
  return {
    stored: new Set(stored.map((r) => `${r.ts_code}|${r.end_date}`)),
    checked: new Map(checked.map((r) => [`${r.ts_code}|${r.end_date}`, String(r.checked_on)])),
  };
}

export interface WarehouseStats {
  newest_daily: string | null;
  daily_rows: number;
  stocks: number;
  trade_cal_refreshed_at: string | null;
  newest_cal_date: string | null;
}
export async function stats(wh: Warehouse): Promise<WarehouseStats> {
  const [r] = await wh.read(`SELECT
    (SELECT MAX(trade_date) FROM r_stock_daily) AS newest_daily,
    (SELECT COUNT(*) FROM r_stock_daily) AS daily_rows,
    (SELECT COUNT(*) FROM stock_basic) AS stocks,
    (SELECT value FROM meta WHERE key = 'trade_cal_refreshed_at') AS refreshed,
    (SELECT MAX(cal_date) FROM trade_cal) AS newest_cal`);
  return {
    newest_daily: (r?.newest_daily as string | null) ?? null,
    daily_rows: Number(r?.daily_rows ?? 0),
    stocks: Number(r?.stocks ?? 0),
    trade_cal_refreshed_at: (r?.refreshed as string | null) ?? null,
    newest_cal_date: (r?.newest_cal as string | null) ?? null,
  };
}

/** When the first daily backfill completed (see `markSeeded`), or null if it never has. */
export async function seededAt(wh: Warehouse): Promise<string | null> {
  const [r] = await wh.read("SELECT value FROM meta WHERE key = 'seeded_at'");
  return (r?.value as string | undefined) ?? null;
}

export interface RunRow extends Row {
  id: number;
  trigger: string;
  source: string;
  steps: string;
  started_at: string;
  finished_at: string | null;
  status: string;
  trade_cal_rows: number;
  stock_rows: number;
  daily_days: number;
  daily_rows: number;
  fundamentals_rows: number;
  tushare_calls: number;
  error: string | null;
}
export async function recentRuns(wh: Warehouse, limit = 10): Promise<RunRow[]> {
  return (await wh.read("SELECT * FROM scheduler_runs ORDER BY id DESC LIMIT ?", [limit])) as RunRow[];
}
