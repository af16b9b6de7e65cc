/** Readable output of the commands: a two-column table of the datum and a line naming its verified cite. Pure. */
import type { Cite } from "@twilight/core";

const LABELS: Record<string, string> = {
  ts_code: "code",
  trade_date: "trade date",
  open: "open",
  high: "high",
  low: "low",
  close: "close",
  pre_close: "previous close",
  change: "change",
  pct_chg: "change %",
  vol: "volume (lots)",
  amount: "turnover (k CNY)",
  ann_date: "announced",
  end_date: "period end",
  eps: "EPS (basic)",
  dt_eps: "EPS (diluted)",
  roe: "ROE %",
  roe_dt: "ROE deducted %",
  roa: "ROA %",
  grossprofit_margin: "gross margin %",
  netprofit_yoy: "net profit YoY %",
  or_yoy: "revenue YoY %",
  debt_to_assets: "debt to assets %",
  current_ratio: "current ratio",
  quick_ratio: "quick ratio",
  bps: "book value / share",
  profit_dedt: "deducted net profit",
};

function cell(v: unknown): string {
  if (v === null || v === undefined) return "-";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(4)));
  return String(v);
}

/** Width in terminal columns: CJK characters take two. */
function width(s: string): number {
  let w = 0;
  for (const ch of s)
    w += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/.test(ch) ? 2 : 1;
  return w;
}

export function table(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => width(k)));
  return rows.map(([k, v]) => `${k}${" ".repeat(w - width(k))}  ${v}`).join("\n");
}

export function formatDatum(data: Record<string, unknown>): string {
  return table(Object.entries(data).map(([k, v]) => [LABELS[k] ?? k, cell(v)]));
}

export function formatCite(c: Cite): string {
  const params = Object.entries(c.params)
    .map(([k, v]) => `${k}=${cell(v)}`)
    .join(" ");
  return [
    `cite: verified (Ed25519 ${c.key_id}) for profile ${c.profile}`,
    `      ${c.source} ${c.api} ${params} · as of ${c.as_of} · retrieved ${c.retrieved_at} · request ${c.request_id}`,
  ].join("\n");
}
