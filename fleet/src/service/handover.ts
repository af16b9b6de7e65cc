/**
 * What live migration (migrate.ts) and moving between nodes (move.ts) share: the step timer every step is reported
 * through, and the end of a rolled-back handover (the row says what happened, held callers are released, one typed
 * error that names the failed step).
 */
import { DomainError } from "@twilight/core";
import { readProfileEnv } from "../profiles/layout.js";
import type { ProfilePatch } from "../registry/types.js";
import { postAdmin, type RuntimeEndpoint } from "../workload/admin-edge.js";
import { audit } from "../workload/audit.js";
import type { FleetContext } from "../workload/context.js";

/** One audit event of a handover (begin, outcome, rollback). */
export function handoverEvent(
  ctx: FleetContext,
  profile: string,
  actor: string,
  action: string,
  result: "ok" | "error" | "info",
  detail: Record<string, unknown>,
) {
  return audit(ctx, { profile, actor, action, result, detail });
}

export type StepTimer = {
  t0: number;
  step: (s: string, d?: Record<string, unknown>) => void;
  steps: Array<{ step: string; ms: number }>;
};

/** A timer whose every step is recorded (ms since start) and reported to the caller's progress. */
export function stepTimer(progress: (s: string, d?: Record<string, unknown>) => void): StepTimer {
  const t0 = performance.now();
  const steps: StepTimer["steps"] = [];
  return {
    t0,
    steps,
    step: (s, detail) => {
      steps.push({ step: s, ms: Math.round(performance.now() - t0) });
      progress(s, detail);
    },
  };
}

export interface RolledBack {
  name: string;
  /** e.g. "migration to container", "move to node-b" */
  what: string;
  /** e.g. "runs as prefab", "runs on node-a" */
  still: string;
  reason: string;
  /** Why the old workload could not restart, when it could not. */
  restartError?: string;
  /** The restored workload's handle columns (when it restarted). */
  restored: ProfilePatch;
  held: boolean;
  release: () => void;
}

/** Record the outcome in the row and release held callers whatever happens: never a gate left shut. */
export async function settleRollback(ctx: FleetContext, r: RolledBack): Promise<void> {
  try {
    await ctx.registry.update(
      r.name,
      r.restartError
        ? {
            status: "error",
            pid: null,
            container_id: null,
            workload_handle: null,
            last_error: `${r.what} failed (${r.reason}) and the old workload could not restart: ${r.restartError}`,
          }
        : { status: "running", ...r.restored, last_error: `${r.what} failed and was rolled back: ${r.reason}` },
    );
  } finally {
    if (r.held) r.release();
  }
}

/** The one error a rolled-back handover throws: what failed, at which step, and that the profile still serves. */
export function rollbackError(err: unknown, r: Pick<RolledBack, "name" | "what" | "still" | "reason">, t: StepTimer) {
  return new DomainError(
    err instanceof DomainError ? err.code : "DRIVER",
    `${r.what} of ${r.name} failed at "${t.steps.at(-2)?.step ?? "start"}" and was rolled back; ${r.name} still ${r.still}: ${r.reason}`,
    {
      hint: `hermes-admin events ${r.name} shows each step; hermes-admin logs ${r.name}`,
      details: { steps: t.steps },
      cause: err,
    },
  );
}

/**
 * Tell a standby runtime to open the profile's state and serve (the handover's last step). Its key goes only to a
 * port whose every listener is the expected owner (on this host); another node's port is that task's own.
 */
export async function activateAt(ep: Endpoint, dir: string, uid: number): Promise<void> {
  await adminCall(ep, dir, uid, "activate");
}

/**
 * Tell a runtime that has been serving to hand its state over (`POST /admin/release`): it answers once its requests in
 * flight are done and state.db is closed, so a copy of the directory taken after it is consistent.
 */
export async function releaseAt(ep: Endpoint, dir: string, uid: number): Promise<void> {
  await adminCall(ep, dir, uid, "release");
}

type Endpoint = RuntimeEndpoint;

async function adminCall(ep: Endpoint, dir: string, uid: number, what: "activate" | "release"): Promise<void> {
  const env = await readProfileEnv(dir, uid);
  await postAdmin(ep, what, env.API_SERVER_KEY ?? "");
}
