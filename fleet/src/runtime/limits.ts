/** Resource limits per billing plan: one table for every tier (container spec, prefab sandbox, systemd unit). */
import { assertPlan, type Plan } from "@twilight/core";

const MiB = 1024 * 1024;

export interface ContainerLimits {
  memoryBytes: number;
  /** CPU quota in units of 1e-9 CPUs (Docker's NanoCpus): 1_000_000_000 = one CPU. */
  nanoCpus: number;
  pids: number;
}

/** Limits per plan (a Map: a plan name is never a property lookup); profiles without a plan get the default. */
export const PLAN_LIMITS: ReadonlyMap<Plan | "default", ContainerLimits> = new Map<Plan | "default", ContainerLimits>([
  ["dedicated_pro", { memoryBytes: 1024 * MiB, nanoCpus: 1_000_000_000, pids: 256 }],
  ["pro", { memoryBytes: 512 * MiB, nanoCpus: 500_000_000, pids: 256 }],
  ["basic", { memoryBytes: 512 * MiB, nanoCpus: 500_000_000, pids: 256 }],
  ["default", { memoryBytes: 512 * MiB, nanoCpus: 500_000_000, pids: 256 }],
]);

/** Limits for a plan; no plan -> the default; an unknown plan is refused (never a workload without limits). */
export function limitsForPlan(plan: string | null | undefined): ContainerLimits {
  const limits = PLAN_LIMITS.get(plan == null ? "default" : assertPlan(plan));
  if (!limits) throw new Error(`no limits for plan ${plan}`);
  return limits;
}
