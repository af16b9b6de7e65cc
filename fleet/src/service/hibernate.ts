/**
 * Hibernation: a profile idle for its plan's time sleeps (its workload is stopped, so its memory goes back to the host;
 * sessions, memories and state.db stay on disk) and the front door wakes it on the next request, holding that request
 * until the profile answers. Status `sleeping` (desired state stays `running`: the profile is meant to be available, its
 * data-service token and model key stay registered). Stopping rather than freezing was measured: a frozen process or
 * paused container keeps every page it had (bench/hibernate.ts prints both).
 *
 * - sleep: the front door holds the profile's new requests, in-flight ones drain, the workload stops, the row says
 *   `sleeping`, the held requests are released (and wake it again at once: nothing is lost, the caller sees latency).
 * - wake: one at a time per profile (every waiting request shares it); a wake that fails leaves the profile `sleeping`
 *   with `last_error`, records a `wake` error event and answers a clear 503; for `WAKE_RETRY_MS` after a failure new
 *   requests get that answer at once instead of each starting a doomed wake.
 * - A control-plane crash at any point leaves either a running profile (the supervisor adopts or starts it) or a
 *   sleeping one with no workload (boot stops one it finds).
 */
import { Conflict, Precondition, Unavailable } from "@twilight/core";
import { readProfileEnv } from "../profiles/layout.js";
import type { ProfileRow } from "../registry/types.js";
import type { Supervisor } from "../supervisor/supervisor.js";
import { audit } from "../workload/audit.js";
import { type FleetContext, type KeyedMutex, noProgress, type Progress } from "../workload/context.js";
import { handlePatch, startWorkload, stopWorkload } from "../workload/workloads.js";
import { dueToSleep } from "./idle-policy.js";
import type { ProfileService } from "./profiles.js";

/** What hibernation needs of the front door: hold/release/drain (as a migration), and when a profile was last used. */
export interface IdleGate {
  hold(profile: string): void;
  release(profile: string): void;
  drain(profile: string, timeoutMs: number): Promise<boolean>;
  inFlight(profile: string): number;
  lastRequestAt(profile: string): number | undefined;
}

export interface HibernationHooks {
  slept?: (tier: string, reason: string) => void;
  woke?: (tier: string, ok: boolean, seconds: number) => void;
}

export type SleepReason = "idle" | "operator";

/** After a failed wake, how long new requests get the same answer without another attempt. */
export const WAKE_RETRY_MS = 10_000;

export class Hibernation {
  private readonly waking = new Map<string, Promise<ProfileRow>>();
  private readonly failed = new Map<string, { at: number; error: Unavailable }>();
  /** When this daemon began watching for idleness (time before it never counts as idle). */
  private since: number;

  constructor(
    private readonly ctx: FleetContext,
    private readonly mutex: KeyedMutex,
    private readonly supervisor: Supervisor,
    private readonly profiles: ProfileService,
    private readonly gate: IdleGate,
    private readonly hooks: HibernationHooks = {},
  ) {
    this.since = ctx.now();
  }

  /** Put a running profile to sleep. Idle sleeps give way to any request (they never wait on one). */
  async sleep(name: string, actor: string, reason: SleepReason, progress: Progress = noProgress): Promise<ProfileRow> {
    return await this.mutex.run(name, async () => {
      const row = await this.profiles.get(name);
      if (row.status === "sleeping") {
        progress("already sleeping");
        return row;
      }
      if (row.status !== "running" || row.desired_state !== "running")
        throw new Precondition(`profile ${name} is ${row.status}; only a running profile can sleep`, {
          hint: row.status === "stopped" ? `hermes-admin start ${name}` : `hermes-admin health ${name}`,
        });
      this.gate.hold(name);
      try {
        progress("draining");
        const drained = await this.gate.drain(name, reason === "idle" ? 0 : this.ctx.cfg.stopTimeoutMs);
        if (!drained)
          throw new Conflict(`profile ${name} has requests in flight`, {
            retryable: true,
            hint: "it sleeps once idle; or retry when its requests have ended",
          });
        progress("stopping", { tier: row.tier });
        this.supervisor.reset(name);
        const t0 = performance.now();
        await this.supervisor.quietly(name, () => stopWorkload(this.ctx, row));
        const out = await this.ctx.registry.update(name, { status: "sleeping", last_error: null, ...handlePatch(null) });
        this.failed.delete(name);
        const idleS = Math.round((this.ctx.now() - (this.gate.lastRequestAt(name) ?? this.since)) / 1000);
        await audit(this.ctx, {
          profile: name,
          actor,
          action: "sleep",
          result: "ok",
          detail: { reason, tier: row.tier, idle_s: idleS, stop_ms: Math.round(performance.now() - t0) },
        });
        this.hooks.slept?.(row.tier, reason);
        this.ctx.log.info({ profile: name, reason, tier: row.tier }, "profile asleep");
        return out;
      } finally {
        this.gate.release(name);
      }
    });
  }

  /** A wake is under way (the row may already say `starting`, but nothing answers yet): requests must wait for it. */
  isWaking(name: string): boolean {
    return this.waking.has(name);
  }

  /** Wake a sleeping profile and wait until it answers; concurrent callers share one wake. */
  wake(name: string, actor: string, reason: "request" | "operator", progress: Progress = noProgress): Promise<ProfileRow> {
    const f = this.failed.get(name);
    if (reason === "request" && f && this.ctx.now() - f.at < WAKE_RETRY_MS) return Promise.reject(f.error);
    let p = this.waking.get(name);
    if (!p) {
      p = this.wakeOnce(name, actor, reason, progress).finally(() => this.waking.delete(name));
      this.waking.set(name, p);
    }
    return p;
  }

  private async wakeOnce(name: string, actor: string, reason: string, progress: Progress): Promise<ProfileRow> {
    return await this.mutex.run(name, async () => {
      const row = await this.profiles.get(name);
      if (row.status !== "sleeping") return row; // woken, stopped or moved meanwhile: the caller resolves again
      const t0 = performance.now();
      progress("waking", { tier: row.tier });
      this.supervisor.reset(name);
      try {
        const out = await this.supervisor.quietly(name, () => startWorkload(this.ctx, row, true));
        this.supervisor.started(name);
        this.failed.delete(name);
        const ms = await this.wakeEnded(row, actor, { reason, t0, ok: true, detail: {} });
        progress("awake", { wake_ms: ms });
        return out;
      } catch (err) {
        const why = (err as Error).message;
        // nothing half-started stays behind; the profile sleeps on and the next wake tries again
        await this.supervisor.quietly(name, () => stopWorkload(this.ctx, row, 2_000)).catch(() => undefined);
        await this.ctx.registry.update(name, { status: "sleeping", last_error: `wake failed: ${why}`, ...handlePatch(null) });
        await this.wakeEnded(row, actor, { reason, t0, ok: false, detail: { error: why } });
        this.ctx.log.error({ profile: name, err: why }, "profile could not wake");
        const error = new Unavailable(`profile ${name} is sleeping and could not wake: ${why}`, {
          hint: `hermes-admin events ${name}; hermes-admin logs ${name}; then hermes-admin wake ${name}`,
        });
        this.failed.set(name, { at: this.ctx.now(), error });
        throw error;
      }
    });
  }

  /** The one record of a wake's end: the `wake` event (ok with its time, or error with why) and the metric. */
  private async wakeEnded(
    row: ProfileRow,
    actor: string,
    w: { reason: string; t0: number; ok: boolean; detail: Record<string, unknown> },
  ): Promise<number> {
    const ms = Math.round(performance.now() - w.t0);
    await audit(this.ctx, {
      profile: row.name,
      actor,
      action: "wake",
      result: w.ok ? "ok" : "error",
      detail: { reason: w.reason, tier: row.tier, ...(w.ok ? { wake_ms: ms } : {}), ...w.detail },
    });
    this.hooks.woke?.(row.tier, w.ok, ms / 1000);
    return ms;
  }

  /**
   * Idleness counts from now: a daemon that has just taken over as leader saw none of the requests the old leader's
   * front door served, so its own earlier quiet is no evidence that a profile is idle.
   */
  watchFromNow(): void {
    this.since = this.ctx.now();
  }

  /** One idle round: every running profile idle past its plan's time goes to sleep. Returns who slept. */
  async sweep(override?: number): Promise<string[]> {
    const rows = await this.ctx.registry.list();
    const due = dueToSleep(rows, {
      now: this.ctx.now(),
      since: this.since,
      lastRequestAt: (n) => this.gate.lastRequestAt(n),
      inFlight: (n) => this.gate.inFlight(n),
      ...(override !== undefined ? { override } : {}),
    });
    const slept: string[] = [];
    for (const d of due) {
      const row = rows.find((r) => r.name === d.name);
      // a profile that runs its own WeChat channel (WEIXIN_TOKEN: Hermes' gateway long-polls it) would drop off the
      // channel while asleep, so it stays awake; a channel delivered by webhook comes through the front door and wakes it
      const env = row ? await readProfileEnv(row.profile_path, row.uid).catch(() => ({}) as Record<string, string>) : {};
      if (env.WEIXIN_TOKEN) continue;
      try {
        await this.sleep(d.name, "fleet", "idle");
        slept.push(d.name);
      } catch (err) {
        // a request arrived, or the profile changed state meanwhile: it is not idle any more
        this.ctx.log.debug({ profile: d.name, err: (err as Error).message }, "idle sleep skipped");
      }
    }
    return slept;
  }
}
