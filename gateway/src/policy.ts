/**
 * What each plan may spend on the model, and what each model costs. Pure data and lookups (Maps, never `obj[plan]`).
 * Limits: requests/minute, tokens/minute, tokens/day (UTC day), a monthly spend cap in fen (UTC month), and how many of
 * a key's requests may be in flight at once (more wait in that key's own queue, up to `queue`).
 */
import { PLANS, type Plan } from "@twilight/core";

export interface PlanLimits {
  rpm: number;
  tpm: number;
  tpd: number;
  monthlyFen: number;
  concurrency: number;
  queue: number;
}

export const DEFAULT_LIMITS: ReadonlyMap<Plan, PlanLimits> = new Map<Plan, PlanLimits>([
  ["basic", { rpm: 20, tpm: 40_000, tpd: 400_000, monthlyFen: 3_000, concurrency: 2, queue: 8 }],
  ["pro", { rpm: 60, tpm: 120_000, tpd: 2_000_000, monthlyFen: 15_000, concurrency: 4, queue: 16 }],
  ["dedicated_pro", { rpm: 120, tpm: 300_000, tpd: 6_000_000, monthlyFen: 50_000, concurrency: 8, queue: 32 }],
]);

/** Price of one model in fen per million tokens, input (prompt) and output (completion). */
export interface ModelPrice {
  inFenPerM: number;
  outFenPerM: number;
}

/** SiliconFlow's list prices (CNY per million tokens, x100 = fen) for the models the template names; extend by config. */
export const DEFAULT_PRICES: ReadonlyMap<string, ModelPrice> = new Map<string, ModelPrice>([
  ["Qwen/Qwen2.5-72B-Instruct", { inFenPerM: 413, outFenPerM: 413 }],
  ["Qwen/Qwen2.5-7B-Instruct", { inFenPerM: 0, outFenPerM: 0 }],
  ["deepseek-ai/DeepSeek-V3", { inFenPerM: 200, outFenPerM: 800 }],
]);

/** A model missing from the table is charged at this price (the most expensive known), so no model runs free by accident. */
export function priceOf(prices: ReadonlyMap<string, ModelPrice>, model: string): ModelPrice {
  const p = prices.get(model);
  if (p) return p;
  let inFenPerM = 0;
  let outFenPerM = 0;
  for (const v of prices.values()) {
    inFenPerM = Math.max(inFenPerM, v.inFenPerM);
    outFenPerM = Math.max(outFenPerM, v.outFenPerM);
  }
  return { inFenPerM, outFenPerM };
}

/** Cost in millifen (1/1000 fen, an integer so sums are exact): tokens x fen/M / 1000, rounded up per request. */
export function costMillifen(price: ModelPrice, promptTokens: number, completionTokens: number): number {
  return Math.ceil((promptTokens * price.inFenPerM + completionTokens * price.outFenPerM) / 1000);
}

/** Overrides from config: `{"basic": {"rpm": 5}, ...}`; unknown plans are refused by the config schema. */
export function mergeLimits(over: Partial<Record<Plan, Partial<PlanLimits>>> = {}): Map<Plan, PlanLimits> {
  const out = new Map<Plan, PlanLimits>();
  for (const p of PLANS) out.set(p, { ...(DEFAULT_LIMITS.get(p) as PlanLimits), ...(over[p] ?? {}) });
  return out;
}
