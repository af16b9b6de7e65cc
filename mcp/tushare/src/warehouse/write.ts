/** Writes to the warehouse. Each function is one transaction on the writer connection. */
import type { DailyBar, Fundamentals, StockBasic, TradeCalDay } from "@twilight/core";
import { FIELDS } from "../tushare/types.js";
import type { SqlValue, Warehouse, WriterConn } from "./db.js";

const DAILY_COLS: string[] = [...FIELDS.daily];
const FINA_COLS: string[] = [...FIELDS.fina_indicator];

/** INSERT (OR REPLACE) of many rows, in statements of at most `chunk` rows. */
async function insertRows(
  c: WriterConn,
  o: { table: string; cols: string[]; rows: SqlValue[][]; replace: boolean },
): Promise<void> {
  const chunk = 400;
  for (let i = 0; i < o.rows.length; i += chunk) {
    const part = o.rows.slice(i, i + chunk);
    const tuple = `(${o.cols.map(() => "?").join(", ")})`;
    const verb = o.replace ? "INSERT OR REPLACE" : "INSERT";
    await c.run(`${verb} INTO ${o.table} (${o.cols.join(", ")}) VALUES ${part.map(() => tuple).join(", ")}`, part.flat());
  }
}

function upsert(c: WriterConn, table: string, cols: string[], rows: SqlValue[][]): Promise<void> {
  return insertRows(c, { table, cols, rows, replace: true });
}

export async function upsertTradeCal(wh: Warehouse, rows: TradeCalDay[], refreshedAt: string): Promise<void> {
  await wh.transaction(async (c) => {
    await upsert(
      c,
      "trade_cal",
      ["exchange", "cal_date", "is_open", "pretrade_date"],
      rows.map((r) => [r.exchange, r.cal_date, r.is_open, r.pretrade_date]),
    );
    await setMeta(c, "trade_cal_refreshed_at", refreshedAt);
  });
}

export async function upsertStockBasic(wh: Warehouse, rows: StockBasic[], at: string): Promise<void> {
  await wh.transaction((c) =>
    upsert(
      c,
      "stock_basic",
      ["ts_code", "symbol", "name", "area", "industry", "market", "list_date", "updated_at"],
      rows.map((r) => [r.ts_code, r.symbol, r.name, r.area, r.industry, r.market, r.list_date, at]),
    ),
  );
}

export interface DayWrite {
  tradeDate: string;
  /** Every stock this write covers for the day; those without a bar are recorded as loaded without one (suspended). */
  codes: string[];
  bars: DailyBar[];
  runId: number | null;
  at: string;
}

/** One trading day for a set of stocks, bars and their `daily_loaded` marks together: all of it or none. */
export async function writeDay(wh: Warehouse, d: DayWrite): Promise<void> {
  const withBar = new Set(d.bars.map((b) => b.ts_code));
  // Plain INSERT (half the cost of INSERT OR REPLACE here): the planner only plans pairs without a daily_loaded mark,
  // and a bar is only ever written together with its mark, so a conflict means a broken invariant and fails the day.
  await wh.transaction(async (c) => {
    const bars = d.bars.map((b) => DAILY_COLS.map((k) => b[k as keyof DailyBar]));
    await insertRows(c, { table: "r_stock_daily", cols: DAILY_COLS, rows: bars, replace: false });
    const marks = d.codes.map((code) => [d.tradeDate, code, withBar.has(code), d.runId, d.at]);
    await insertRows(c, {
      table: "daily_loaded",
      cols: ["trade_date", "ts_code", "has_bar", "run_id", "loaded_at"],
      rows: marks,
      replace: false,
    });
  });
}

export async function upsertFundamentals(
  wh: Warehouse,
  rows: Fundamentals[],
  checked: { ts_code: string; end_date: string; found: boolean }[],
  checkedOn: string,
): Promise<void> {
  await wh.transaction(async (c) => {
    await upsert(
      c,
      "fina_indicator",
      FINA_COLS,
      rows.map((r) => FINA_COLS.map((k) => r[k as keyof Fundamentals])),
    );
    await upsert(
      c,
      "fina_checked",
      ["ts_code", "end_date", "checked_on", "found"],
      checked.map((x) => [x.ts_code, x.end_date, checkedOn, x.found]),
    );
  });
}

export async function setMeta(c: WriterConn, key: string, value: string): Promise<void> {
  await c.run("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value]);
}

/**
 * Record that the first daily backfill completed (the warehouse is seeded), once: the first time is kept. Written the
 * moment the daily step ends, so a run stopped or killed in a later step still counts as having seeded.
 */
export async function markSeeded(wh: Warehouse, at: string): Promise<void> {
  await wh.write((c) => c.run("INSERT OR IGNORE INTO meta (key, value) VALUES ('seeded_at', ?)", [at]));
}

export interface RunCounts {
  trade_cal_rows: number;
  stock_rows: number;
  daily_days: number;
  daily_rows: number;
  fundamentals_rows: number;
  tushare_calls: number;
}

export async function startRun(
  wh: Warehouse,
  r: { trigger: string; source: string; steps: string; at: string },
): Promise<number> {
  return wh.write(async (c) => {
    const rows = await c.all(
      `INSERT INTO scheduler_runs (id, trigger, source, steps, started_at, status)
       VALUES (nextval('scheduler_run_id'), ?, ?, ?, ?, 'running') RETURNING id`,
      [r.trigger, r.source, r.steps, r.at],
    );
    return Number(rows[0]?.id);
  });
}

export async function finishRun(
  wh: Warehouse,
  id: number,
  r: { status: "ok" | "failed" | "aborted"; at: string; counts: RunCounts; error: string | null },
): Promise<void> {
  await wh.write((c) =>
    c.run(
      `UPDATE scheduler_runs SET status = ?, finished_at = ?, trade_cal_rows = ?, stock_rows = ?, daily_days = ?, daily_rows = ?,
       fundamentals_rows = ?, tushare_calls = ?, error = ? WHERE id = ?`,
      [
        r.status,
        r.at,
        r.counts.trade_cal_rows,
        r.counts.stock_rows,
        r.counts.daily_days,
        r.counts.daily_rows,
        r.counts.fundamentals_rows,
        r.counts.tushare_calls,
        r.error,
        id,
      ],
    ),
  );
}

/** Runs left `running` by a process that died are closed as `aborted` at start. */
export async function abortStaleRuns(wh: Warehouse, at: string): Promise<number> {
  return wh.write(async (c) => {
    const rows = await c.all(
      "UPDATE scheduler_runs SET status = 'aborted', finished_at = ?, error = 'the process ended during the run' WHERE status = 'running' RETURNING id",
      [at],
    );
    return rows.length;
  });
}
