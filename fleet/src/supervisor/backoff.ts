/**
 * Restart policy shared by both tiers (PM2-like): delay = base * factor^n, capped; n counts consecutive restarts that did
 * not reach stable uptime and resets after `stableMs`; after `maxTries` such restarts the profile ends in `error`.
 * Pure: the supervisor feeds it times.
 */
export interface BackoffPolicy {
  baseMs: number;
  factor: number;
  maxMs: number;
  stableMs: number;
  maxTries: number;
}

export interface CrashState {
  /** Consecutive crashes without stable uptime. */
  consecutive: number;
}

export type CrashDecision = { action: "restart"; delayMs: number; attempt: number } | { action: "give-up"; attempts: number };

export function onCrash(
  policy: BackoffPolicy,
  state: CrashState,
  uptimeMs: number,
): { decision: CrashDecision; state: CrashState } {
  const consecutive = uptimeMs >= policy.stableMs ? 1 : state.consecutive + 1;
  if (consecutive > policy.maxTries)
    return { decision: { action: "give-up", attempts: consecutive - 1 }, state: { consecutive } };
  const delayMs = Math.min(policy.maxMs, Math.round(policy.baseMs * policy.factor ** (consecutive - 1)));
  return { decision: { action: "restart", delayMs, attempt: consecutive }, state: { consecutive } };
}

/** Total time the policy may spend restarting before giving up (for tests and for documentation). */
export function worstCaseMs(policy: BackoffPolicy): number {
  let total = 0;
  for (let i = 0; i < policy.maxTries; i++) total += Math.min(policy.maxMs, policy.baseMs * policy.factor ** i);
  return Math.round(total);
}
