/**
 * The closed set of plans billing sells. Each maps to a fleet plan and tier; the fleet's plan list is the same three
 * names (`basic`, `pro`, `dedicated_pro`), so this file can move to @twilight/core unchanged.
 */
import { InputInvalid } from "@twilight/core";

export const PLAN_CODES = ["basic", "pro", "dedicated_pro"] as const;
export type PlanCode = (typeof PLAN_CODES)[number];
export type Tier = "prefab" | "container";

export interface Plan {
  code: PlanCode;
  title: string;
  price_fen: number;
  period_days: number;
  fleet_plan: PlanCode;
  tier: Tier;
}

export const PLANS: Readonly<Record<PlanCode, Plan>> = Object.freeze({
  basic: {
    code: "basic",
    title: "Twilight 股票研究 基础版",
    price_fen: 2900,
    period_days: 30,
    fleet_plan: "basic",
    tier: "prefab",
  },
  pro: { code: "pro", title: "Twilight 股票研究 专业版", price_fen: 9900, period_days: 30, fleet_plan: "pro", tier: "prefab" },
  dedicated_pro: {
    code: "dedicated_pro",
    title: "Twilight 股票研究 独享专业版",
    price_fen: 29900,
    period_days: 30,
    fleet_plan: "dedicated_pro",
    tier: "container",
  },
});

export function isPlanCode(v: unknown): v is PlanCode {
  return typeof v === "string" && (PLAN_CODES as readonly string[]).includes(v);
}

export function planOf(code: unknown): Plan {
  if (!isPlanCode(code))
    throw new InputInvalid(`unknown plan ${JSON.stringify(code)}`, { hint: `plans: ${PLAN_CODES.join(", ")}` });
  return PLANS[code];
}
