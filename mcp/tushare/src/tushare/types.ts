/** The Tushare Pro wire shapes and the one seam the scheduler depends on: something that answers Tushare queries. */
export type TushareParams = Record<string, string | number>;

/** `data` of a Tushare response: column names and rows of values in that order. */
export interface TushareTable {
  fields: string[];
  items: unknown[][];
}

export interface TushareResponse {
  code: number;
  msg: string;
  data: TushareTable | null;
  request_id?: string;
}

/** Anything that answers Tushare queries: the HTTP client, or the embedded fixture when there is no token. */
export interface TushareApi {
  /** "tushare" (the HTTP API) or "fixture" (the embedded sample). */
  readonly source: "tushare" | "fixture";
  query(api: string, params: TushareParams, fields?: readonly string[]): Promise<TushareTable>;
}

export function rowsOf(t: TushareTable): Record<string, unknown>[] {
  return t.items.map((item) => Object.fromEntries(t.fields.map((f, i) => [f, item[i] ?? null])));
}

/** Field lists we ask for, per API (the columns of our warehouse tables). */
export const FIELDS = {
  daily: ["ts_code", "trade_date", "open", "high", "low", "close", "pre_close", "change", "pct_chg", "vol", "amount"],
  trade_cal: ["exchange", "cal_date", "is_open", "pretrade_date"],
  stock_basic: ["ts_code", "symbol", "name", "area", "industry", "market", "list_date"],
  fina_indicator: [
    "ts_code",
    "ann_date",
    "end_date",
    "eps",
    "dt_eps",
    "roe",
    "roe_dt",
    "roa",
    "grossprofit_margin",
    "netprofit_yoy",
    "or_yoy",
    "debt_to_assets",
    "current_ratio",
    "quick_ratio",
    "bps",
    "profit_dedt",
  ],
} as const satisfies Record<string, readonly string[]>;
export type TushareApiName = keyof typeof FIELDS;
