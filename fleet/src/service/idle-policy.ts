/**
 * Hibernation policy (pure): how long a profile of each plan may sit idle before it sleeps, and which profiles are due.
 * Idle means no request through the front door since the later of its last request and its last (re)start or wake.
 * A sleeping profile's workload is stopped (its memory goes back to the host; state is on disk) and the front door
 * wakes it on the next request. `dedicated_pro` sells an always-on container and never sleeps; a profile spawned by
 * hand without a plan never sleeps either. The operator's `FLEET_IDLE_AFTER_MS` replaces every value (0: never).
 */
import type { Plan } from "@twilight/core";

const MIN = 60_000;

/** Idle time before sleeping, per plan (null: never). A Map: a plan name is never a property lookup. */
export const IDLE_AFTER: ReadonlyMap<Plan | "default", number | null> = new Map<Plan | "default", number | null>([
  ["basic", 30 * MIN],
  ["pro", 120 * MIN],
  ["dedicated_pro", null],
  ["default", null],
]);

export function idleAfterFor(plan: string | null, override?: number): number | null {
  if (override !== undefined) return override > 0 ? override : null;
  return IDLE_AFTER.get((plan ?? "default") as Plan) ?? null;
}

export interface IdleCandidate {
  name: string;
  plan: string | null;
  status: string;
  desired_state: string;
  last_started_at: string | null;
}

/**
 * Profiles due to sleep at `now`: running, meant to run, none of their requests in flight, and idle for at least their
 * plan's time. `lastRequestAt` is when the front door last saw a request for the profile (undefined: none since the
 * daemon started, so the start counts; a daemon restart never makes a profile look idle for longer than it was).
 */
export function dueToSleep(
  rows: readonly IdleCandidate[],
  o: {
    now: number;
    lastRequestAt: (name: string) => number | undefined;
    inFlight: (name: string) => number;
    since: number;
    override?: number;
  },
): Array<{ name: string; idleMs: number }> {
  const out: Array<{ name: string; idleMs: number }> = [];
  for (const r of rows) {
    if (r.status !== "running" || r.desired_state !== "running" || o.inFlight(r.name) > 0) continue;
    const after = idleAfterFor(r.plan, o.override);
    if (after === null) continue;
    const started = r.last_started_at ? Date.parse(r.last_started_at) : 0;
    const last = Math.max(o.lastRequestAt(r.name) ?? 0, Number.isFinite(started) ? started : 0, o.since);
    const idleMs = o.now - last;
    if (idleMs >= after) out.push({ name: r.name, idleMs });
  }
  return out;
}
