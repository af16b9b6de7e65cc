/**
 * The market-data contract shared by the data service (mcp/tushare), the profile runtime (agent) and the skill:
 * stock code rules, MCP tool names, their inputs and the shapes of the data inside cite envelopes.
 * Field names follow Tushare Pro (`daily`, `trade_cal`, `fina_indicator`, `stock_basic`).
 */
import { z } from "zod";
import { InputInvalid } from "./errors.js";

export type Exchange = "SH" | "SZ" | "BJ";

/**
 * Normalise a stock code to Tushare's `NNNNNN.XX` form. Accepts `600519`, `600519.SH`, `600519.sh`, `sh600519`, `SH600519`.
 * Exchange rules for a bare code: 6xxxxx and 9xxxxx (but 92xxxx) -> SH; 0xxxxx, 2xxxxx, 3xxxxx -> SZ; 4xxxxx, 8xxxxx, 92xxxx -> BJ.
 */
export function normalizeStockCode(input: string): string {
  const s = String(input).trim().toUpperCase();
  let m = /^(\d{6})\.(SH|SZ|BJ)$/.exec(s);
  if (m) return `${m[1]}.${m[2]}`;
  m = /^(SH|SZ|BJ)\.?(\d{6})$/.exec(s);
  if (m) return `${m[2]}.${m[1]}`;
  if (/^\d{6}$/.test(s)) return `${s}.${exchangeOf(s)}`;
  throw new InputInvalid(`stock code ${JSON.stringify(String(input).slice(0, 40))} is not a valid A-share code`, {
    hint: "use six digits, optionally with the exchange: 600519, 600519.SH or sh600519",
  });
}

export function exchangeOf(sixDigits: string): Exchange {
  if (sixDigits.startsWith("92")) return "BJ";
  const c = sixDigits[0];
  if (c === "6" || c === "9") return "SH";
  if (c === "0" || c === "2" || c === "3") return "SZ";
  if (c === "4" || c === "8") return "BJ";
  throw new InputInvalid(`stock code ${sixDigits} belongs to no exchange we know`, {
    hint: "Shanghai codes start with 6, Shenzhen with 0 or 3, Beijing with 4, 8 or 92",
  });
}

export const yyyymmdd = z.string().regex(/^\d{8}$/, "a date as YYYYMMDD");

/** MCP tool names of the data service. A compatibility contract: profiles and skills call these. */
export const TOOLS = {
  dailyPrices: "get_daily_prices",
  latestPrice: "get_latest_price",
  fundamentals: "get_fundamentals",
  tradeCalendar: "get_trade_calendar",
  searchStocks: "search_stocks",
} as const;

export const DailyPricesInput = z.object({
  ts_code: z.string().min(1).describe("stock code: 600519, 600519.SH or sh600519"),
  start_date: yyyymmdd.optional().describe("first trade date, YYYYMMDD"),
  end_date: yyyymmdd.optional().describe("last trade date, YYYYMMDD"),
  limit: z.number().int().min(1).max(1000).optional().describe("most rows to return, newest first (default 30)"),
});
export const LatestPriceInput = z.object({
  ts_code: z.string().min(1).describe("stock code: 600519, 600519.SH or sh600519"),
  as_of: yyyymmdd.optional().describe("latest trade date on or before this date (default: newest stored)"),
});
export const FundamentalsInput = z.object({
  ts_code: z.string().min(1).describe("stock code"),
  period: yyyymmdd.optional().describe("report period end, e.g. 20241231 (annual); default: newest"),
});
export const TradeCalendarInput = z.object({
  exchange: z.enum(["SSE", "SZSE"]).optional().describe("default SSE"),
  start_date: yyyymmdd,
  end_date: yyyymmdd,
  is_open: z.union([z.literal(0), z.literal(1)]).optional(),
});
export const SearchStocksInput = z.object({
  query: z.string().min(1).max(40).describe("code or (part of) a name, e.g. 600519 or 茅台"),
});

export const DailyBar = z.object({
  ts_code: z.string(),
  trade_date: z.string(),
  open: z.number(),
  high: z.number(),
  low: z.number(),
  close: z.number(),
  pre_close: z.number(),
  change: z.number(),
  pct_chg: z.number(),
  vol: z.number(),
  amount: z.number(),
});
export type DailyBar = z.infer<typeof DailyBar>;

export const TradeCalDay = z.object({
  exchange: z.string(),
  cal_date: z.string(),
  is_open: z.number(),
  pretrade_date: z.string().nullable(),
});
export type TradeCalDay = z.infer<typeof TradeCalDay>;

/** A fina_indicator row (subset we store; numbers may be null where Tushare gives none). */
export const Fundamentals = z.object({
  ts_code: z.string(),
  ann_date: z.string().nullable(),
  end_date: z.string(),
  eps: z.number().nullable(),
  dt_eps: z.number().nullable(),
  roe: z.number().nullable(),
  roe_dt: z.number().nullable(),
  roa: z.number().nullable(),
  grossprofit_margin: z.number().nullable(),
  netprofit_yoy: z.number().nullable(),
  or_yoy: z.number().nullable(),
  debt_to_assets: z.number().nullable(),
  current_ratio: z.number().nullable(),
  quick_ratio: z.number().nullable(),
  bps: z.number().nullable(),
  profit_dedt: z.number().nullable(),
});
export type Fundamentals = z.infer<typeof Fundamentals>;

export const StockBasic = z.object({
  ts_code: z.string(),
  symbol: z.string(),
  name: z.string(),
  area: z.string().nullable(),
  industry: z.string().nullable(),
  market: z.string().nullable(),
  list_date: z.string().nullable(),
});
export type StockBasic = z.infer<typeof StockBasic>;

/** Data shapes inside the envelopes each tool returns. */
export const ToolData = {
  [TOOLS.dailyPrices]: z.object({ ts_code: z.string(), rows: z.array(DailyBar) }),
  [TOOLS.latestPrice]: DailyBar,
  [TOOLS.fundamentals]: Fundamentals,
  [TOOLS.tradeCalendar]: z.object({ exchange: z.string(), rows: z.array(TradeCalDay) }),
  [TOOLS.searchStocks]: z.object({ query: z.string(), rows: z.array(StockBasic) }),
} as const;

export type MarketTool = (typeof TOOLS)[keyof typeof TOOLS];

/** What a cite must say about the call it answers: the Tushare API and the normalised params. */
export interface CiteBinding {
  api: string;
  params: Record<string, unknown>;
}

const TOOL_INPUT_SCHEMAS: Record<MarketTool, z.ZodTypeAny> = {
  [TOOLS.dailyPrices]: DailyPricesInput,
  [TOOLS.latestPrice]: LatestPriceInput,
  [TOOLS.fundamentals]: FundamentalsInput,
  [TOOLS.tradeCalendar]: TradeCalendarInput,
  [TOOLS.searchStocks]: SearchStocksInput,
};

export function isMarketTool(name: string): name is MarketTool {
  return Object.hasOwn(TOOL_INPUT_SCHEMAS, name);
}

/**
 * The `api` and `params` the data service puts in the cite of a call with these arguments. The data service builds its
 * cites with this function and the profile checks them with it, so a cite answers exactly one call: a valid cite of the
 * same profile replayed for another call does not match. Throws InputInvalid for arguments the tool would refuse.
 */
export function citeBinding(tool: MarketTool, args: unknown): CiteBinding {
  const parsed = TOOL_INPUT_SCHEMAS[tool].safeParse(args ?? {});
  if (!parsed.success) throw new InputInvalid(`arguments of ${tool} are invalid: ${parsed.error.issues[0]?.message ?? ""}`);
  switch (tool) {
    case TOOLS.dailyPrices: {
      const a = parsed.data as z.infer<typeof DailyPricesInput>;
      const params = {
        ts_code: normalizeStockCode(a.ts_code),
        start_date: a.start_date ?? null,
        end_date: a.end_date ?? null,
        limit: a.limit ?? 30,
      };
      return { api: "daily", params };
    }
    case TOOLS.latestPrice: {
      const a = parsed.data as z.infer<typeof LatestPriceInput>;
      return { api: "daily", params: { ts_code: normalizeStockCode(a.ts_code), as_of: a.as_of ?? null } };
    }
    case TOOLS.fundamentals: {
      const a = parsed.data as z.infer<typeof FundamentalsInput>;
      return { api: "fina_indicator", params: { ts_code: normalizeStockCode(a.ts_code), period: a.period ?? null } };
    }
    case TOOLS.tradeCalendar: {
      const a = parsed.data as z.infer<typeof TradeCalendarInput>;
      const params = {
        exchange: a.exchange ?? "SSE",
        start_date: a.start_date,
        end_date: a.end_date,
        is_open: a.is_open ?? null,
      };
      return { api: "trade_cal", params };
    }
    case TOOLS.searchStocks: {
      const a = parsed.data as z.infer<typeof SearchStocksInput>;
      return { api: "stock_basic", params: { query: a.query.trim() } };
    }
  }
}
