/**
 * Live migration between tiers (prefab <-> container) on the same directory and uid. The new workload starts first in
 * standby (it does not open the profile's state), so requests are held only for the drain and the handover:
 *   prepare -> standby start -> health(standby) -> hold -> drain -> stop old -> activate new -> health(ok) -> switch -> release
 * Any failure rolls back to the old tier and leaves the profile serving, with the reason. Every step is an event.
 */
import { inContainer, Precondition, type Tier } from "@twilight/core";
import { writeConfig } from "../profiles/layout.js";
import type { ProfileRow } from "../registry/types.js";
import type { WorkloadHandle, WorkloadSpec } from "../runtime/types.js";
import type { Supervisor } from "../supervisor/supervisor.js";
import { portLeases } from "../workload/allocate.js";
import { type FleetContext, type KeyedMutex, noProgress, type Progress } from "../workload/context.js";
import { waitHealthy } from "../workload/health.js";
import { handlePatch, specOf } from "../workload/workloads.js";
import { activateAt, handoverEvent, rollbackError, type StepTimer, settleRollback, stepTimer } from "./handover.js";
import type { ProfileService } from "./profiles.js";

/** What the front door offers a migration: hold new requests, wait for in-flight ones, release. */
export interface TrafficGate {
  hold(profile: string): void;
  release(profile: string): void;
  drain(profile: string, timeoutMs: number): Promise<boolean>;
  readonly maxHeldMs: Map<string, number>;
}

export interface MigrateOptions {
  to: Tier;
  actor: string;
  /** How long the new workload may take to report standby (default: the start timeout). */
  healthTimeoutMs?: number;
  drainTimeoutMs?: number;
}

export interface MigrateResult {
  profile: string;
  from: Tier;
  to: Tier;
  outcome: "migrated" | "noop" | "retiered-stopped" | "rolled-back";
  generation: number;
  /** Longest time a request was held by the front door during the handover. */
  held_ms: number;
  /** Time from hold to release (the pause callers could see). */
  pause_ms: number;
  total_ms: number;
  steps: Array<{ step: string; ms: number }>;
  message: string;
}

export class Migrator {
  constructor(
    private readonly ctx: FleetContext,
    private readonly mutex: KeyedMutex,
    private readonly supervisor: Supervisor,
    private readonly profiles: ProfileService,
    private readonly gate: TrafficGate,
  ) {}

  async migrate(name: string, o: MigrateOptions, progress: Progress = noProgress): Promise<MigrateResult> {
    return await this.mutex.run(name, async () => {
      const row = await this.profiles.get(name);
      const t = stepTimer(progress);
      const { t0, step, steps } = t;
      const base = { profile: name, from: row.tier, to: o.to, held_ms: 0, pause_ms: 0, steps };
      if (row.tier === o.to) {
        step("noop", { reason: `already on ${o.to}` });
        return {
          ...base,
          outcome: "noop",
          generation: row.generation,
          total_ms: 0,
          message: `${name} already runs as ${o.to}; nothing to do`,
        };
      }
      this.ctx.drivers.for(o.to); // fail early, with a hint, when the target tier has no driver here
      if (row.tier === "swarm" && row.node && (await this.ctx.drivers.for("swarm").address?.(specOf(this.ctx, row))))
        throw new Precondition(`${name}'s directory is on swarm node ${row.node}, not on this host`, {
          hint: `move it here first: hermes-admin move ${name} --to-node <this node's name>`,
        });
      if (row.status === "migrating") throw new Precondition(`${name} is already migrating`);
      if (row.desired_state === "stopped" || ["stopped", "error", "sleeping"].includes(row.status)) {
        // nothing runs: switch the tier on disk and in the row (a sleeping profile wakes on its new tier)
        const keep = row.status === "sleeping" ? ("sleeping" as const) : ("stopped" as const);
        const gen = row.generation + 1;
        await writeConfig(
          row.profile_path,
          this.ctx.cfg.templateDir,
          this.profiles.renderInput({ ...row, generation: gen }, o.to),
          { uid: 0, gid: row.gid },
        );
        await this.ctx.registry.update(name, {
          tier: o.to,
          generation: gen,
          status: keep,
          ...handlePatch(null),
        });
        await handoverEvent(this.ctx, name, o.actor, "migrate", "ok", { from: row.tier, to: o.to, [keep]: true });
        step("retiered", {
          note:
            keep === "sleeping"
              ? "profile is sleeping: switched its tier; its next request wakes it there"
              : "profile is stopped: switched its tier; start it when you want it running",
        });
        return {
          ...base,
          outcome: "retiered-stopped",
          generation: gen,
          total_ms: Math.round(performance.now() - t0),
          message:
            keep === "sleeping"
              ? `${name} was sleeping: it wakes as ${o.to} on its next request (or hermes-admin wake ${name})`
              : `${name} was not running: it will start as ${o.to} (hermes-admin start ${name})`,
        };
      }
      return await this.live(row, o, t);
    });
  }

  private async live(row: ProfileRow, o: MigrateOptions, t: StepTimer): Promise<MigrateResult> {
    const mark = portLeases.mark();
    const rows = await this.ctx.registry.list();
    // the standby's port is leased until the row records it (switch) or the migration is rolled back
    const lease = await portLeases.lease(this.ctx.cfg.ports, new Set(rows.map((r) => r.port)), mark);
    try {
      return await this.liveOn(row, o, t, lease.port);
    } finally {
      lease.release();
    }
  }

  private async liveOn(row: ProfileRow, o: MigrateOptions, t: StepTimer, port: number): Promise<MigrateResult> {
    const { name } = row;
    const from = row.tier;
    const gen = row.generation + 1;
    const oldSpec = specOf(this.ctx, row);
    const newSpec: WorkloadSpec = { ...specOf(this.ctx, row, { tier: o.to, generation: gen, port }), standby: true };
    const oldDriver = this.ctx.drivers.for(from);
    const newDriver = this.ctx.drivers.for(o.to);
    await this.ctx.registry.update(name, { status: "migrating" });
    await handoverEvent(this.ctx, name, o.actor, "migrate-begin", "info", { from, to: o.to, generation: gen, port });
    let held = false;
    let oldStopped = false;
    let handle: WorkloadHandle | undefined;
    let holdStart = 0;
    this.gate.maxHeldMs.delete(name);
    try {
      await writeConfig(
        row.profile_path,
        this.ctx.cfg.templateDir,
        this.profiles.renderInput({ ...row, generation: gen, port }, o.to),
        { uid: 0, gid: row.gid },
      );
      t.step("config", { tier: o.to, generation: gen });
      handle = await newDriver.start(newSpec);
      t.step("standby-start", {
        port,
        ...(handle.containerId ? { container: handle.containerId.slice(0, 12) } : { pid: handle.pid }),
      });
      const owner = newDriver.listenerUid(newSpec);
      await waitHealthy({
        port,
        owner,
        timeoutMs: o.healthTimeoutMs ?? this.ctx.cfg.startTimeoutMs,
        intervalMs: 20,
        accept: (r) => r.status === "standby" || r.status === "ok",
        alive: async () => (await newDriver.inspect(newSpec, handle)).running,
      });
      t.step("standby-healthy");
      this.gate.hold(name);
      held = true;
      holdStart = performance.now();
      t.step("hold");
      const drained = await this.gate.drain(name, o.drainTimeoutMs ?? 10_000);
      t.step("drained", { complete: drained });
      await this.supervisor.quietly(name, () => oldDriver.stop(oldSpec, { timeoutMs: this.ctx.cfg.stopTimeoutMs }));
      oldStopped = true;
      t.step("old-stopped");
      await activateAt({ host: "127.0.0.1", port, owner }, row.profile_path, row.uid);
      await waitHealthy({ port, owner, timeoutMs: 10_000, intervalMs: 10 });
      t.step("activated");
      await this.ctx.registry.update(name, {
        tier: o.to,
        generation: gen,
        port,
        ...handlePatch(handle),
        image: inContainer(o.to) ? (newSpec.image ?? null) : null,
        status: "running",
        last_error: null,
        last_started_at: new Date(this.ctx.now()).toISOString(),
        last_health_check: new Date(this.ctx.now()).toISOString(),
      });
      this.supervisor.started(name);
      this.gate.release(name);
      held = false;
      const pause = performance.now() - holdStart;
      t.step("switched", { pause_ms: Math.round(pause) });
      await oldDriver.remove(oldSpec).catch(() => undefined);
      const total = Math.round(performance.now() - t.t0);
      const heldMs = Math.round(this.gate.maxHeldMs.get(name) ?? 0);
      await handoverEvent(this.ctx, name, o.actor, "migrate", "ok", {
        from,
        to: o.to,
        generation: gen,
        pause_ms: Math.round(pause),
        held_ms: heldMs,
        total_ms: total,
        steps: t.steps,
      });
      return {
        profile: name,
        from,
        to: o.to,
        outcome: "migrated",
        generation: gen,
        held_ms: heldMs,
        pause_ms: Math.round(pause),
        total_ms: total,
        steps: t.steps,
        message: `${name} now runs as ${o.to} (generation ${gen}); longest held request ${heldMs} ms`,
      };
    } catch (err) {
      const reason = (err as Error).message;
      t.step("rollback", { reason });
      await newDriver.stop({ ...newSpec, standby: false }, { timeoutMs: 3_000 }).catch(() => undefined);
      await newDriver.remove(newSpec).catch(() => undefined);
      await writeConfig(row.profile_path, this.ctx.cfg.templateDir, this.profiles.renderInput(row, from), {
        uid: 0,
        gid: row.gid,
      }).catch(() => undefined);
      let restored = row;
      let restartError: string | undefined;
      if (oldStopped) {
        try {
          const h = await oldDriver.start(oldSpec);
          await waitHealthy({
            port: row.port,
            owner: oldDriver.listenerUid(oldSpec),
            timeoutMs: this.ctx.cfg.startTimeoutMs,
          }).catch(() => undefined);
          this.supervisor.started(name);
          restored = { ...row, ...handlePatch(h) };
        } catch (e) {
          restartError = (e as Error).message;
        }
      }
      const what = `migration to ${o.to}`;
      await settleRollback(this.ctx, {
        name,
        what,
        still: `runs as ${from}`,
        reason,
        restartError,
        restored: { pid: restored.pid, container_id: restored.container_id, workload_handle: restored.workload_handle },
        held,
        release: () => this.gate.release(name),
      });
      await handoverEvent(this.ctx, name, o.actor, "migrate", "error", { from, to: o.to, reason, steps: t.steps });
      throw rollbackError(err, { name, what, still: `runs as ${from}`, reason }, t);
    }
  }
}
