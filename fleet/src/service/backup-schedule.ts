/**
 * Scheduled backups per plan, with retention (pure: what is due, what to prune). The daemon ticks BackupService.
 * scheduled() on a timer; archives are the ones in ops/backups/ (operator-named --out files are never pruned).
 */
import type { Plan } from "@twilight/core";

export interface BackupPolicy {
  everyMs: number;
  keep: number;
}

const HOUR = 3_600_000;
/** A profile without a plan (spawned by hand) is backed up like `basic`. */
export const BACKUP_POLICY: Readonly<Record<Plan, BackupPolicy>> = {
  basic: { everyMs: 24 * HOUR, keep: 7 },
  pro: { everyMs: 12 * HOUR, keep: 14 },
  dedicated_pro: { everyMs: 6 * HOUR, keep: 28 },
};

export function policyFor(plan: string | null): BackupPolicy {
  return (plan && (BACKUP_POLICY as Record<string, BackupPolicy>)[plan]) || BACKUP_POLICY.basic;
}

/** Is a backup due: never backed up, or the newest is older than the plan's interval. */
export function isDue(plan: string | null, newestAt: string | undefined, now: number): boolean {
  return newestAt === undefined || now - Date.parse(newestAt) >= policyFor(plan).everyMs;
}

/** Files beyond the plan's `keep` newest (input newest first). */
export function toPrune<T extends { file: string }>(plan: string | null, newestFirst: readonly T[]): string[] {
  return newestFirst.slice(policyFor(plan).keep).map((b) => b.file);
}
