/**
 * Answer a Tushare query from in-memory tables the way Tushare Pro does (filters, field selection, newest first).
 * Pure; shared by the embedded fixture source and the local protocol test server.
 */
import { TushareError } from "./errors.js";
import type { TushareParams, TushareTable } from "./types.js";

type Tables = Record<string, TushareTable>;
type Row = Record<string, unknown>;

const str = (v: unknown): string | undefined => (v === undefined || v === null || v === "" ? undefined : String(v));

function filters(api: string, p: TushareParams): ((r: Row) => boolean)[] {
  const f: ((r: Row) => boolean)[] = [];
  const codes = str(p.ts_code)
    ?.split(",")
    .map((c) => c.trim().toUpperCase());
  if (codes) f.push((r) => codes.includes(String(r.ts_code)));
  const dateCol = api === "trade_cal" ? "cal_date" : api === "fina_indicator" ? "ann_date" : "trade_date";
  const start = str(p.start_date);
  const end = str(p.end_date);
  if (api !== "stock_basic") {
    if (start) f.push((r) => String(r[dateCol] ?? "") >= start);
    if (end) f.push((r) => String(r[dateCol] ?? "") <= end);
  }
  const td = str(p.trade_date);
  if (td && api === "daily") f.push((r) => r.trade_date === td);
  if (api === "trade_cal") {
    const ex = str(p.exchange) ?? "SSE";
    f.push((r) => r.exchange === ex);
    const open = str(p.is_open);
    if (open !== undefined) f.push((r) => String(r.is_open) === open);
  }
  const period = str(p.period);
  if (period && api === "fina_indicator") f.push((r) => r.end_date === period);
  return f;
}

const SORT: Record<string, string> = { daily: "trade_date", trade_cal: "cal_date", fina_indicator: "end_date" };

export function answerQuery(tables: Tables, api: string, params: TushareParams, fields?: readonly string[]): TushareTable {
  const t = tables[api];
  if (!t) throw new TushareError("bad_request", api, `接口名称 ${api} 不存在 (no such api)`, 40101);
  if (api === "fina_indicator" && !str(params.ts_code))
    throw new TushareError("bad_request", api, "参数 ts_code 必填 (ts_code is required)", 40101);
  const fs = filters(api, params);
  let rows: Row[] = t.items
    .map((item) => Object.fromEntries(t.fields.map((f, i) => [f, item[i] ?? null])))
    .filter((r) => fs.every((ok) => ok(r)));
  const key = SORT[api];
  if (key) rows = rows.sort((a, b) => (String(a[key]) < String(b[key]) ? 1 : String(a[key]) > String(b[key]) ? -1 : 0));
  const wanted = fields?.length ? fields.filter((f) => t.fields.includes(f)) : t.fields;
  return { fields: [...wanted], items: rows.map((r) => wanted.map((f) => r[f] ?? null)) };
}

/** Tushare accepts `fields` as "a,b,c" or a list. */
export function parseFields(v: unknown): string[] | undefined {
  if (Array.isArray(v)) return v.map(String).filter(Boolean);
  if (typeof v === "string" && v.trim())
    return v
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  return undefined;
}
