/**
 * Request parsing for the offline planner: what is asked (price, fundamentals), about which stock (code or name), and
 * for which date or report period, in English or Chinese. Pure functions, deterministic, no I/O.
 */
import { normalizeStockCode } from "@twilight/core";

export type Lang = "en" | "zh";

export interface Intent {
  lang: Lang;
  price: boolean;
  fundamentals: boolean;
  /** Normalised `NNNNNN.XX` when the text names a code or a known name. */
  code?: string;
  /** A name the table does not know: looked up with search_stocks. */
  query?: string;
  /** Explicit date (YYYYMMDD) for a price request. */
  asOf?: string;
  /** Report period end (YYYYMMDD) for a fundamentals request. */
  period?: string;
}

/** Names of the stocks in the bundled data, with common aliases. search_stocks covers any other name. */
export const NAME_TABLE: ReadonlyArray<{ code: string; name: string; aliases: string[] }> = [
  { code: "600519.SH", name: "贵州茅台", aliases: ["贵州茅台", "茅台", "kweichow moutai", "moutai", "maotai"] },
  { code: "000858.SZ", name: "五粮液", aliases: ["五粮液", "wuliangye", "wu liang ye"] },
];

export function nameOf(code: string): string | undefined {
  return NAME_TABLE.find((e) => e.code === code)?.name;
}

const PRICE_WORDS = [
  /\bprice/i,
  /\bclos(e|ed|ing)\b/i,
  /\bquote/i,
  /\btrad(e|ed|ing)\b/i,
  /\bopen(ed)?\b/i,
  /\bvolume\b/i,
  /\bhow much\b/i,
  /股价/,
  /价格/,
  /收盘/,
  /报价/,
  /行情/,
  /开盘/,
  /成交/,
  /多少钱/,
  /价/,
];
const FUNDAMENTAL_WORDS = [
  /fundamental/i,
  /\broe\b/i,
  /\beps\b/i,
  /\bearnings/i,
  /\bmargin/i,
  /\bfinancial/i,
  /\bratio/i,
  /\bbps\b/i,
  /\bprofit/i,
  /\bdebt\b/i,
  /\bindicator/i,
  /基本面/,
  /财务/,
  /指标/,
  /收益率/,
  /每股收益/,
  /毛利/,
  /利润/,
  /业绩/,
  /负债/,
  /财报/,
  /年报/,
];

const CODE_RE = /(?<![0-9A-Za-z])((?:sh|sz|bj)\.?\d{6}|\d{6}(?:\.(?:sh|sz|bj))?)(?![0-9A-Za-z])/i;
const YMD_RES: RegExp[] = [
  /(?<!\d)(20\d{2})(\d{2})(\d{2})(?!\d)/,
  /(?<!\d)(20\d{2})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)/,
  /(20\d{2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?/,
];
const YEAR_RE = /(?<!\d)(20\d{2})(?!\d)/;

export function langOf(text: string): Lang {
  return /[\u4e00-\u9fff]/.test(text) ? "zh" : "en";
}

function pad(n: string): string {
  return n.padStart(2, "0");
}

function explicitDate(text: string): string | undefined {
  for (const re of YMD_RES) {
    const m = re.exec(text);
    if (m) {
      const d = `${m[1]}${pad(m[2] as string)}${pad(m[3] as string)}`;
      const month = Number(d.slice(4, 6));
      const day = Number(d.slice(6, 8));
      if (month >= 1 && month <= 12 && day >= 1 && day <= 31) return d;
    }
  }
  return undefined;
}

/** Report period from "2024", "2024 Q3", "2024年三季度", "H1 2024", "2024年中报"... Annual when only a year is given. */
export function periodOf(text: string): string | undefined {
  const exact = explicitDate(text);
  if (exact) return exact;
  const y = YEAR_RE.exec(text)?.[1];
  if (!y) return undefined;
  if (/\bq1\b|first quarter|一季/i.test(text)) return `${y}0331`;
  if (/\bq2\b|\bh1\b|half|interim|半年|中报|二季/i.test(text)) return `${y}0630`;
  if (/\bq3\b|third quarter|三季/i.test(text)) return `${y}0930`;
  return `${y}1231`;
}

function codeIn(text: string): string | undefined {
  const m = CODE_RE.exec(text);
  if (!m) return undefined;
  try {
    return normalizeStockCode(m[1] as string);
  } catch {
    return undefined;
  }
}

function tableName(text: string): string | undefined {
  const lower = text.toLowerCase();
  let best: { code: string; len: number } | undefined;
  for (const e of NAME_TABLE)
    for (const a of e.aliases) if (lower.includes(a) && (!best || a.length > best.len)) best = { code: e.code, len: a.length };
  return best?.code;
}

const ZH_FILLER =
  /股价|价格|收盘价?|报价|行情|开盘|成交量?|多少钱|基本面|财务|指标|净资产收益率|每股收益|毛利率?|利润|业绩|负债率?|财报|年报|中报|季报|查询|查一下|查|帮我|请|看看|一下|最新|今天|现在|的|是多少|多少|呢|吗|啊|了|和|与|及|它|其|该股|这只股票|股票|公司|年|月|日|号|一季度?|半年度?|三季度?|第|[，。？！、\s\d]/g;

/** A company name the table does not know, for search_stocks. */
function nameQuery(text: string, lang: Lang): string | undefined {
  if (lang === "zh") {
    const runs = text.replace(ZH_FILLER, " ").match(/[\u4e00-\u9fffA-Za-z]{2,12}/g) ?? [];
    const best = runs.filter((r) => /[\u4e00-\u9fff]/.test(r)).sort((a, b) => b.length - a.length)[0];
    return best;
  }
  const m =
    /\b(?:price|quote|fundamentals|close|closing price|figures|numbers|ratios|earnings)\s+(?:of|for)\s+([A-Za-z][A-Za-z&.' -]{1,40}?)(?=\s+(?:on|for|in|at|as of|during)\b|[?.!,]|$)/i.exec(
      text,
    ) ?? /\b([A-Z][A-Za-z&.-]+(?:\s+[A-Z][A-Za-z&.-]+)*)'s\b/.exec(text);
  const q = m?.[1]?.trim();
  if (!q || /^(it|its|this|that|the stock|them)$/i.test(q)) return undefined;
  return q;
}

export function parseRequest(text: string): Intent {
  const lang = langOf(text);
  const intent: Intent = {
    lang,
    price: PRICE_WORDS.some((re) => re.test(text)),
    fundamentals: FUNDAMENTAL_WORDS.some((re) => re.test(text)),
  };
  const code = codeIn(text) ?? tableName(text);
  if (code) intent.code = code;
  else {
    const q = nameQuery(text, lang);
    if (q) intent.query = q;
  }
  const date = explicitDate(text);
  if (intent.fundamentals) {
    const p = periodOf(text);
    if (p) intent.period = p;
  }
  if (date) intent.asOf = date;
  else if (intent.price && !intent.fundamentals) {
    const y = YEAR_RE.exec(text)?.[1];
    if (y) intent.asOf = `${y}1231`;
  }
  return intent;
}
