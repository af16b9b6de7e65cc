/** Answer text of the offline planner, in the user's language, every figure taken from a verified envelope. */
import type { DailyBar, Fundamentals } from "@twilight/core";
import type { Lang } from "./intent.js";

export interface Cited<T> {
  ref: number;
  data: T;
}

// built on first use: creating a NumberFormat loads ICU data (~20 ms at start, measured with --cpu-prof)
let TWO_DP: Intl.NumberFormat | undefined;
function fmt2(n: number): string {
  if (!TWO_DP) TWO_DP = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return TWO_DP.format(n);
}
const signed = (n: number, d = 2) => `${n > 0 ? "+" : ""}${n.toFixed(d)}`;
const isoDate = (d: string) => (/^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d);

/** What the data service says while its warehouse is still being seeded. */
export interface SeedingNote {
  state: "seeding";
  as_of: string;
  days_done?: number;
  days_total?: number | null;
}

/** A sentence after an answer given while the warehouse fills: newer data than its as-of date may still be missing. */
export function seedingNote(w: SeedingNote | undefined, lang: Lang): string {
  if (w?.state !== "seeding") return "";
  const n =
    typeof w.days_done === "number" && typeof w.days_total === "number" ? { done: w.days_done, total: w.days_total } : undefined;
  if (lang === "zh")
    return `\n（注意：数据仓库仍在初始导入中${n ? `（已导入 ${n.done}/${n.total} 个交易日）` : ""}，以上数据截至 ${isoDate(w.as_of)}，更新的数据可能尚未到位。）`;
  return `\n(Note: the market-data warehouse is still being filled${n ? ` (${n.done} of ${n.total} trading days in)` : ""}; this is as of ${isoDate(w.as_of)} and newer data may not be there yet.)`;
}

function label(code: string, name: string | undefined): string {
  return name ? `${name} (${code})` : code;
}

export function priceAnswer(bar: Cited<DailyBar>, name: string | undefined, lang: Lang, asked?: string): string {
  const b = bar.data;
  const who = label(b.ts_code, name);
  const note =
    asked && asked !== b.trade_date
      ? lang === "zh"
        ? `（${isoDate(asked)} 非交易日或无数据，取其之前最近的交易日）`
        : ` (no trading on ${isoDate(asked)}; this is the latest trade date before it)`
      : "";
  if (lang === "zh")
    return (
      `${who} 在 ${isoDate(b.trade_date)} 的收盘价为 ${fmt2(b.close)} 元${note} [${bar.ref}]。` +
      `开盘 ${fmt2(b.open)}，最高 ${fmt2(b.high)}，最低 ${fmt2(b.low)}，涨跌 ${signed(b.change)}（${signed(b.pct_chg)}%），` +
      `成交量 ${fmt2(b.vol)} 手，成交额 ${fmt2(b.amount)} 千元。`
    );
  return (
    `${who} closed at ${fmt2(b.close)} CNY on ${isoDate(b.trade_date)}${note} [${bar.ref}]. ` +
    `Open ${fmt2(b.open)}, high ${fmt2(b.high)}, low ${fmt2(b.low)}, change ${signed(b.change)} (${signed(b.pct_chg)}%), ` +
    `volume ${fmt2(b.vol)} lots, turnover ${fmt2(b.amount)} thousand CNY.`
  );
}

const FIELDS: ReadonlyArray<{ key: keyof Fundamentals; en: string; zh: string; unit: "%" | "CNY" | "" }> = [
  { key: "eps", en: "EPS (basic)", zh: "每股收益（基本）", unit: "CNY" },
  { key: "dt_eps", en: "EPS (diluted)", zh: "每股收益（稀释）", unit: "CNY" },
  { key: "roe", en: "ROE", zh: "净资产收益率", unit: "%" },
  { key: "roe_dt", en: "ROE (deducted)", zh: "净资产收益率（扣非）", unit: "%" },
  { key: "roa", en: "ROA", zh: "总资产收益率", unit: "%" },
  { key: "grossprofit_margin", en: "Gross margin", zh: "毛利率", unit: "%" },
  { key: "netprofit_yoy", en: "Net profit YoY", zh: "净利润同比", unit: "%" },
  { key: "or_yoy", en: "Revenue YoY", zh: "营业收入同比", unit: "%" },
  { key: "debt_to_assets", en: "Debt to assets", zh: "资产负债率", unit: "%" },
  { key: "current_ratio", en: "Current ratio", zh: "流动比率", unit: "" },
  { key: "quick_ratio", en: "Quick ratio", zh: "速动比率", unit: "" },
  { key: "bps", en: "Book value per share", zh: "每股净资产", unit: "CNY" },
];

function periodName(end: string, lang: Lang): string {
  const y = end.slice(0, 4);
  const md = end.slice(4);
  const en: Record<string, string> = { "0331": "Q1", "0630": "half-year", "0930": "Q3", "1231": "annual" };
  const zh: Record<string, string> = { "0331": "一季报", "0630": "半年报", "0930": "三季报", "1231": "年报" };
  const n = (lang === "zh" ? zh : en)[md];
  if (!n) return isoDate(end);
  return lang === "zh" ? `${y} 年${n}` : `${y} ${n}`;
}

export function fundamentalsAnswer(f: Cited<Fundamentals>, name: string | undefined, lang: Lang): string {
  const d = f.data;
  const rows = FIELDS.filter((x) => typeof d[x.key] === "number").map((x) => {
    const v = d[x.key] as number;
    const unit = x.unit === "%" ? "%" : x.unit === "CNY" ? (lang === "zh" ? " 元" : " CNY") : "";
    return `| ${lang === "zh" ? x.zh : x.en} | ${v.toFixed(2)}${unit} |`;
  });
  const who = label(d.ts_code, name);
  const ann = d.ann_date ? (lang === "zh" ? `，公告日 ${isoDate(d.ann_date)}` : `, announced ${isoDate(d.ann_date)}`) : "";
  const head =
    lang === "zh"
      ? `${who} ${periodName(d.end_date, lang)}（报告期 ${isoDate(d.end_date)}${ann}）主要财务指标 [${f.ref}]：`
      : `${who}, ${periodName(d.end_date, lang)} report (period ending ${isoDate(d.end_date)}${ann}) [${f.ref}]:`;
  const table = [lang === "zh" ? "| 指标 | 数值 |" : "| Metric | Value |", "|---|---|", ...rows].join("\n");
  return `${head}\n\n${table}`;
}

export function text(lang: Lang, en: string, zh: string): string {
  return lang === "zh" ? zh : en;
}

export const HELP = {
  en: 'I can look up A-share prices and fundamentals with cited data. Try: "price of 600519", "000858 fundamentals for 2024", or a name such as "Kweichow Moutai".',
  zh: "我可以查询 A 股的价格和基本面，并给出可验证的数据来源。例如：“600519 的股价”、“五粮液 2024 年的基本面”。",
};
