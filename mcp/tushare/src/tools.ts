/**
 * What each MCP tool answers, independent of MCP: the data, the Tushare API it stems from, the normalised params and
 * the as-of date that go into the cite. Unknown codes and missing data are errors, never empty successes.
 */
import {
  citeBinding,
  DailyPricesInput,
  DomainError,
  FundamentalsInput,
  InputInvalid,
  LatestPriceInput,
  NotFound,
  normalizeStockCode,
  SearchStocksInput,
  TOOLS,
  TradeCalendarInput,
} from "@twilight/core";
import type { z } from "zod";
import type { Warehouse } from "./warehouse/db.js";
import { dailyBars, fundamentals, latestBar, searchStocks, stockByCode, tradeCal } from "./warehouse/read.js";

export type ToolName = (typeof TOOLS)[keyof typeof TOOLS];
export const TOOL_NAMES = Object.values(TOOLS) as ToolName[];

export interface ToolAnswer {
  data: unknown;
  api: string;
  params: Record<string, unknown>;
  as_of: string;
}

export const TOOL_DESCRIPTIONS: Record<ToolName, { title: string; description: string }> = {
  get_daily_prices: {
    title: "Daily prices",
    description:
      "Daily bars (Tushare `daily`: open, high, low, close, pre_close, change, pct_chg %, vol in lots, amount in thousand CNY) " +
      "for one stock and a date range, newest first. Codes: 600519, 600519.SH or sh600519.",
  },
  get_latest_price: {
    title: "Latest price",
    description: "The newest daily bar of a stock on or before `as_of` (YYYYMMDD; default: the newest stored).",
  },
  get_fundamentals: {
    title: "Fundamentals",
    description: "Financial indicators (Tushare `fina_indicator`) of a stock for a report period (e.g. 20241231 = annual).",
  },
  get_trade_calendar: {
    title: "Trade calendar",
    description: "Exchange calendar days (Tushare `trade_cal`) between two dates; is_open 1 = trading day.",
  },
  search_stocks: {
    title: "Search stocks",
    description: "Find listed stocks by code or (part of) the name, e.g. 600519 or 茅台.",
  },
};

const NO_SUCH_STOCK_HINT = "use search_stocks to find a code; the warehouse covers the service's watch list";

/** After a query found nothing: an unknown code is its own error, otherwise the data is missing. */
async function missingOr(wh: Warehouse, code: string, err: DomainError): Promise<never> {
  if (!(await stockByCode(wh, code)) && !(await latestBar(wh, code))) throw new NotFound("stock", code, NO_SUCH_STOCK_HINT);
  throw err;
}

function missing(message: string): DomainError {
  return new DomainError("NOT_FOUND", message, { hint: "the warehouse has no such data; check the dates or the period" });
}

/** `api` and `params` of every answer come from core's citeBinding, the same function the profiles check cites with. */
export async function answerTool(wh: Warehouse, name: ToolName, args: unknown, today: string): Promise<ToolAnswer> {
  const bound = citeBinding(name, args);
  switch (name) {
    case "get_daily_prices": {
      const a = args as z.infer<typeof DailyPricesInput>;
      const ts_code = normalizeStockCode(a.ts_code);
      if (a.start_date && a.end_date && a.start_date > a.end_date) throw new InputInvalid("start_date is after end_date");
      const limit = a.limit ?? 30;
      const r = await dailyBars(wh, {
        ts_code,
        start_date: a.start_date,
        end_date: a.end_date,
        limit,
        offset: 0,
        withTotal: false,
      });
      const first = r.rows[0];
      if (!first)
        return missingOr(
          wh,
          ts_code,
          missing(`no daily bars for ${ts_code} between ${a.start_date ?? "the first day"} and ${a.end_date ?? "today"}`),
        );
      return { data: { ts_code, rows: r.rows }, ...bound, as_of: first.trade_date };
    }
    case "get_latest_price": {
      const a = args as z.infer<typeof LatestPriceInput>;
      const ts_code = normalizeStockCode(a.ts_code);
      const bar = await latestBar(wh, ts_code, a.as_of);
      if (!bar) return missingOr(wh, ts_code, missing(`no daily bar for ${ts_code} on or before ${a.as_of ?? "today"}`));
      return { data: bar, ...bound, as_of: bar.trade_date };
    }
    case "get_fundamentals": {
      const a = args as z.infer<typeof FundamentalsInput>;
      const ts_code = normalizeStockCode(a.ts_code);
      const r = await fundamentals(wh, { ts_code, period: a.period, limit: 1, offset: 0, withTotal: false });
      const row = r.rows[0];
      if (!row)
        return missingOr(wh, ts_code, missing(`no fundamentals for ${ts_code}${a.period ? ` for period ${a.period}` : ""}`));
      return { data: row, ...bound, as_of: row.ann_date ?? row.end_date };
    }
    case "get_trade_calendar": {
      const a = args as z.infer<typeof TradeCalendarInput>;
      if (a.start_date > a.end_date) throw new InputInvalid("start_date is after end_date");
      const exchange = a.exchange ?? "SSE";
      const r = await tradeCal(wh, {
        exchange,
        start_date: a.start_date,
        end_date: a.end_date,
        is_open: a.is_open,
        limit: 5000,
        offset: 0,
        withTotal: false,
      });
      const last = r.rows[r.rows.length - 1];
      if (!last) throw missing(`no ${exchange} calendar days stored between ${a.start_date} and ${a.end_date}`);
      return { data: { exchange, rows: r.rows }, ...bound, as_of: last.cal_date };
    }
    case "search_stocks": {
      const a = args as z.infer<typeof SearchStocksInput>;
      const query = a.query.trim();
      let exact: string | undefined;
      try {
        exact = normalizeStockCode(query);
      } catch {
        exact = undefined;
      }
      const r = await searchStocks(wh, { query, ...(exact ? { exact } : {}), limit: 50, offset: 0, withTotal: false });
      if (r.rows.length === 0) throw new NotFound("stock matching", query, NO_SUCH_STOCK_HINT);
      return { data: { query, rows: r.rows }, ...bound, as_of: today };
    }
  }
}

export const TOOL_INPUTS = {
  get_daily_prices: DailyPricesInput,
  get_latest_price: LatestPriceInput,
  get_fundamentals: FundamentalsInput,
  get_trade_calendar: TradeCalendarInput,
  search_stocks: SearchStocksInput,
} as const satisfies Record<ToolName, z.ZodTypeAny>;
