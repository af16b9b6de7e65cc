/**
 * The closed set of billing plans, shared by billing and the fleet. A plan is a name from this list, nothing else:
 * lookups go through `isPlan`/`assertPlan` (never `obj[plan]`, so `constructor` or `__proto__` is just an unknown plan).
 */
import { InputInvalid } from "./errors.js";
import type { Tier } from "./names.js";

export const PLANS = ["basic", "pro", "dedicated_pro"] as const;
export type Plan = (typeof PLANS)[number];

/** The tier a plan runs on when billing provisions it (the plan's Phase 1: dedicated_pro -> container). */
export const PLAN_TIER: ReadonlyMap<Plan, Tier> = new Map<Plan, Tier>([
  ["basic", "prefab"],
  ["pro", "prefab"],
  ["dedicated_pro", "container"],
]);

export function isPlan(s: unknown): s is Plan {
  return typeof s === "string" && (PLANS as readonly string[]).includes(s);
}

export function assertPlan(s: unknown): Plan {
  if (isPlan(s)) return s;
  throw new InputInvalid(`unknown plan ${JSON.stringify(String(s)).slice(0, 80)}: valid plans are ${PLANS.join(", ")}`, {
    details: { valid: [...PLANS] },
  });
}
