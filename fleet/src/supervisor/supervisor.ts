/**
 * The supervisor keeps every profile in its desired state: it re-adopts workloads after a control-plane restart, restarts
 * crashed or unhealthy ones with the backoff policy (the same for both tiers), ends a crash loop in `error` with the reason,
 * and rotates console logs. It never kills what it did not start or adopt.
 */
import { type ListenerSnapshot, listenerSnapshot } from "../lib/sockets.js";
import type { ProfileRow } from "../registry/types.js";
import { audit } from "../workload/audit.js";
import type { FleetContext, KeyedMutex } from "../workload/context.js";
import { type HealthResult, probeHealth, waitHealthy } from "../workload/health.js";
import { endpointOf, handleOf, handlePatch, specOf, startWorkload, stopWorkload } from "../workload/workloads.js";
import { type CrashState, onCrash } from "./backoff.js";

/** How a profile whose node cannot be reached is reported (last_error prefix; see RuntimeDriver.unreachable). */
const UNREACHABLE = "unreachable:";

/** How often a healthy profile's `last_health_check` is written (it is written at once when its status changes). */
export const HEALTH_STAMP_MS = 60_000;

/** What the supervisor reports as it happens (the daemon turns these into metrics); every hook is optional. */
export interface SupervisorHooks {
  crash?(
    profile: string,
    decision: { action: "restart"; delayMs: number; attempt: number } | { action: "give-up"; attempts: number },
  ): void;
  /** The delayed restart after a crash ran. */
  restarted?(profile: string): void;
  /** Crash history reset (an operator's start/stop/restart). */
  stable?(profile: string): void;
  healthRestart?(profile: string): void;
  healthCheck?(profile: string, tier: string, ok: boolean, seconds: number): void;
}

interface ProfileState {
  crash: CrashState;
  startedAt: number;
  healthFails: number;
  /** >0 while an operator action (restart, migrate) stops the workload on purpose. */
  quiet: number;
  timer?: NodeJS.Timeout;
}

export class Supervisor {
  private readonly states = new Map<string, ProfileState>();
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    private readonly ctx: FleetContext,
    private readonly mutex: KeyedMutex,
    private readonly hooks: SupervisorHooks = {},
  ) {
    ctx.drivers.each((d) =>
      d.onExit((e) => {
        void this.onExit(e.profile, e.generation, e.code, e.signal).catch((err) =>
          ctx.log.error({ err, profile: e.profile }, "exit handling failed"),
        );
      }),
    );
  }

  private state(name: string): ProfileState {
    let s = this.states.get(name);
    if (!s) {
      s = { crash: { consecutive: 0 }, startedAt: this.ctx.now(), healthFails: 0, quiet: 0 };
      this.states.set(name, s);
    }
    return s;
  }

  /** Called after every start of a workload (by the services or by a restart). */
  started(name: string): void {
    const s = this.state(name);
    s.startedAt = this.ctx.now();
    s.healthFails = 0;
  }

  /** Reset the crash history (an operator's explicit start). */
  reset(name: string): void {
    const s = this.state(name);
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.crash = { consecutive: 0 };
    this.hooks.stable?.(name);
  }

  forget(name: string): void {
    const s = this.states.get(name);
    if (s?.timer) clearTimeout(s.timer);
    this.states.delete(name);
  }

  /** Run `fn` while exits of this profile are expected (restart, migration), not crashes. */
  async quietly<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const s = this.state(name);
    s.quiet++;
    try {
      return await fn();
    } finally {
      s.quiet--;
    }
  }

  /** At daemon start: re-adopt what still runs, start what should run and does not. No duplicates: adopt comes first. */
  async boot(): Promise<{ adopted: string[]; started: string[]; failed: string[] }> {
    const out = { adopted: [] as string[], started: [] as string[], failed: [] as string[] };
    for (const row of await this.ctx.registry.list()) {
      if (!this.ctx.drivers.has(row.tier)) {
        this.ctx.log.warn({ profile: row.name, tier: row.tier }, "no driver for this tier on this host; profile left alone");
        continue;
      }
      const driver = this.ctx.drivers.for(row.tier);
      const spec = specOf(this.ctx, row);
      const adopted = await driver.adopt(spec, handleOf(row)).catch(() => false);
      if (adopted) {
        this.started(row.name);
        out.adopted.push(row.name);
        await this.event(row.name, "adopt", "ok", { pid: row.pid, container_id: row.container_id });
        if (row.desired_state === "stopped") await this.stopNow(row);
        // a wake the crash cut short before the row said so: the profile sleeps on, the next request wakes it
        else if (row.status === "sleeping") await this.stopNow(row, "sleeping");
        continue;
      }
      if (row.status === "sleeping") continue;
      if (row.desired_state !== "running" || row.status === "error") {
        if (row.status !== "error" && row.status !== "stopped")
          await this.ctx.registry.update(row.name, { status: "stopped", ...handlePatch(null) });
        continue;
      }
      try {
        await this.mutex.run(row.name, () => startWorkload(this.ctx, row, false));
        this.started(row.name);
        out.started.push(row.name);
        await this.event(row.name, "boot-start", "ok", {});
      } catch (err) {
        out.failed.push(row.name);
        await this.ctx.registry.update(row.name, { status: "error", last_error: (err as Error).message });
        await this.event(row.name, "boot-start", "error", { error: (err as Error).message });
      }
    }
    return out;
  }

  private async stopNow(row: ProfileRow, status: "stopped" | "sleeping" = "stopped"): Promise<void> {
    await this.quietly(row.name, () => stopWorkload(this.ctx, row));
    await this.ctx.registry.update(row.name, { status, ...handlePatch(null) });
  }

  private async onExit(name: string, generation: number, code: number | null, signal: string | null): Promise<void> {
    if (this.closed) return;
    const s = this.state(name);
    if (s.quiet > 0) return;
    const row = await this.ctx.registry.get(name);
    if (!row || row.generation !== generation || ["migrating", "error", "sleeping"].includes(row.status)) return;
    if (row.desired_state !== "running") {
      await this.ctx.registry.update(name, { status: "stopped", ...handlePatch(null) });
      return;
    }
    const how = signal ? `killed by ${signal}` : code === null ? "disappeared" : `exited with code ${code}`;
    await this.crashed(row, how);
  }

  /** Decide what a crash (or a failed health streak) means: a delayed restart, or `error` after too many. */
  private async crashed(row: ProfileRow, how: string): Promise<void> {
    const s = this.state(row.name);
    const uptime = this.ctx.now() - s.startedAt;
    const { decision, state } = onCrash(this.ctx.cfg.restart, s.crash, uptime);
    s.crash = state;
    this.hooks.crash?.(row.name, decision);
    if (decision.action === "give-up") {
      const msg = `${how}; gave up after ${decision.attempts} restarts that never stayed up ${this.ctx.cfg.restart.stableMs / 1000} s`;
      await this.ctx.registry.update(row.name, { status: "error", last_error: msg, ...handlePatch(null) });
      await this.event(row.name, "crash-loop", "error", { reason: how, attempts: decision.attempts });
      this.ctx.log.error({ profile: row.name, reason: how }, "profile keeps crashing; left in error");
      return;
    }
    await this.ctx.registry.update(row.name, { status: "starting", last_error: how, ...handlePatch(null) });
    await this.event(row.name, "crash", "error", { reason: how, restart_in_ms: decision.delayMs, attempt: decision.attempt });
    this.ctx.log.warn({ profile: row.name, reason: how, delayMs: decision.delayMs }, "profile crashed; restarting");
    if (s.timer) clearTimeout(s.timer);
    s.timer = setTimeout(() => {
      s.timer = undefined;
      void this.restartAfterCrash(row.name);
    }, decision.delayMs);
  }

  private async restartAfterCrash(name: string): Promise<void> {
    if (this.closed) return;
    await this.mutex.run(name, async () => {
      const row = await this.ctx.registry.get(name);
      if (!row || row.desired_state !== "running" || ["migrating", "error", "sleeping"].includes(row.status)) return;
      try {
        await this.ctx.registry.bumpRestarts(name);
        this.hooks.restarted?.(name);
        const cur = await startWorkload(this.ctx, row, false);
        this.started(name);
        void this.promoteWhenHealthy(cur);
      } catch (err) {
        await this.crashed(row, `restart failed: ${(err as Error).message}`);
      }
    });
  }

  /** After a restart: mark the profile running as soon as it answers, rather than at the next health round. */
  private async promoteWhenHealthy(row: ProfileRow): Promise<void> {
    try {
      const ep = await endpointOf(this.ctx, row);
      await waitHealthy({
        port: ep.port,
        host: ep.host,
        owner: ep.owner,
        timeoutMs: this.ctx.cfg.startTimeoutMs,
        intervalMs: 100,
      });
      const cur = await this.ctx.registry.get(row.name);
      if (cur?.status === "starting" && cur.pid === row.pid && cur.container_id === row.container_id)
        await this.ctx.registry.update(row.name, {
          status: "running",
          last_error: null,
          last_health_check: new Date(this.ctx.now()).toISOString(),
        });
    } catch {
      /* the health loop and the exit handler deal with it */
    }
  }

  /** One health round: probe every profile that should run; restart after N failures in a row. */
  async healthRound(): Promise<void> {
    const rows = await this.ctx.registry.list();
    // one read of the host's listening sockets for the whole round (see lib/sockets.ts)
    const snapshot = listenerSnapshot();
    await Promise.all(
      rows
        .filter((r) => r.desired_state === "running" && (r.status === "running" || r.status === "starting"))
        .map((r) => this.checkOne(r, snapshot)),
    );
  }

  private async checkOne(row: ProfileRow, snapshot?: ListenerSnapshot): Promise<void> {
    const s = this.state(row.name);
    if (s.quiet > 0 || s.timer) return;
    const t0 = performance.now();
    const h = await endpointOf(this.ctx, row).then(
      (ep) => probeHealth(ep, 2000, ep.owner, snapshot),
      (e: Error) => ({ ok: false, latencyMs: 0, error: e.message }) as HealthResult,
    );
    this.hooks.healthCheck?.(row.name, row.tier, h.ok, (performance.now() - t0) / 1000);
    if (h.ok) {
      s.healthFails = 0;
      // a registry write (fsync'd) per profile per round was the fleet's second cost at scale: the column is written
      // when the status changes and otherwise at most once a minute
      const last = row.last_health_check ? Date.parse(row.last_health_check) : 0;
      const back = row.last_error?.startsWith(UNREACHABLE) === true;
      if (row.status === "starting" || back || this.ctx.now() - last >= HEALTH_STAMP_MS)
        await this.ctx.registry.update(row.name, {
          last_health_check: new Date(this.ctx.now()).toISOString(),
          ...(row.status === "starting" ? { status: "running" as const, last_error: null } : {}),
          ...(back ? { last_error: null } : {}),
        });
      if (back)
        await audit(this.ctx, {
          profile: row.name,
          actor: "fleet",
          action: "reachable",
          result: "ok",
          detail: { was: row.last_error },
        });
      return;
    }
    // a profile whose node is down is reported, never restarted (its directory is there: no second copy anywhere)
    const spec = specOf(this.ctx, row);
    const lost = this.ctx.drivers.has(row.tier) ? await this.ctx.drivers.for(row.tier).unreachable?.(spec) : undefined;
    if (lost) {
      s.healthFails = 0;
      if (row.last_error !== lost) {
        await this.ctx.registry.update(row.name, { last_error: lost });
        await audit(this.ctx, {
          profile: row.name,
          actor: "fleet",
          action: "unreachable",
          result: "error",
          detail: { reason: lost },
        });
        this.ctx.log.warn({ profile: row.name, reason: lost }, "profile unreachable; not restarted elsewhere");
      }
      return;
    }
    s.healthFails++;
    const grace = this.ctx.now() - s.startedAt < this.ctx.cfg.startTimeoutMs;
    if (row.status === "starting" && grace) return;
    if (s.healthFails < this.ctx.cfg.health.failures) return;
    s.healthFails = 0;
    this.hooks.healthRestart?.(row.name);
    await this.mutex.run(row.name, () => this.quietly(row.name, () => stopWorkload(this.ctx, row, 5_000)));
    await this.crashed(row, `unhealthy: ${h.error ?? `HTTP ${h.httpStatus} ${h.status}`}`);
  }

  /** Periodic work: health probes and log rotation. */
  startLoops(): void {
    const health = setInterval(() => {
      void this.healthRound().catch((err) => this.ctx.log.error({ err }, "health round failed"));
    }, this.ctx.cfg.health.intervalMs);
    const rotate = setInterval(() => {
      for (const d of this.ctx.drivers.all()) d.capabilities.logRotation?.rotateLogs();
    }, 10_000);
    this.timers.push(health, rotate);
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    for (const s of this.states.values()) if (s.timer) clearTimeout(s.timer);
  }

  private event(profile: string, action: string, result: "ok" | "error" | "info", detail: Record<string, unknown>) {
    return audit(this.ctx, { profile, actor: "supervisor", action, result, detail });
  }
}
