/**
 * Moving a swarm profile to another node while in use, with its directory (state.db, sessions, .env with its mode):
 *   pre-copy (source running) -> standby task on the target -> health(standby) -> hold -> drain -> stop source (fence)
 *   -> final sync (only what changed, every SQLite file) -> activate target -> health(ok) -> switch -> release
 *   -> remove the source's service, keep the source directory as a root-only archive on its node.
 * Requests are held only from the drain to the switch. Any failure before the switch rolls back: the target's task and
 * copy are removed and the source restarts where it was. Never two live copies: the target opens the state only after
 * the source has stopped, and the source directory is archived (root-owned, 0700) once the target serves.
 * A stopped or sleeping profile is moved the same way without tasks (copy, archive, switch the row).
 */
import { dirname, join } from "node:path";
import { Conflict, Precondition } from "@twilight/core";
import { lstatOrUndefined } from "../lib/safe-fs.js";
import { copyTree } from "../profiles/copy-tree.js";
import { archiveProfileDir, removeProfileDir, writeConfig } from "../profiles/layout.js";
import type { ProfileRow } from "../registry/types.js";
import { nodeLoad, rootOf, unfit } from "../runtime/placement.js";
import type { SwarmDriver } from "../runtime/swarm.js";
import type { WorkloadHandle, WorkloadSpec } from "../runtime/types.js";
import type { Supervisor } from "../supervisor/supervisor.js";
import { type FleetContext, type KeyedMutex, noProgress, type Progress } from "../workload/context.js";
import { waitHealthy } from "../workload/health.js";
import { endpointOf, handlePatch, specOf, startWorkload } from "../workload/workloads.js";
import { activateAt, handoverEvent, releaseAt, rollbackError, type StepTimer, settleRollback, stepTimer } from "./handover.js";
import type { TrafficGate } from "./migrate.js";
import type { ProfileService } from "./profiles.js";

export interface MoveOptions {
  node: string;
  actor: string;
  drainTimeoutMs?: number;
  /**
   * The source node is lost (down) and the operator says so: its service is removed (a node that comes back stops
   * the task), the directory is copied from where the fleet reaches it and archived root-only (a writer still running
   * there loses its files), and the profile starts on the target. Refused while the source node is ready.
   */
  fromLostNode?: boolean;
}

export interface MoveResult {
  profile: string;
  from_node: string;
  to_node: string;
  outcome: "moved" | "noop" | "moved-stopped" | "recovered";
  generation: number;
  path: string;
  /** The source directory, kept root-only on its node until purged (`<root>/.archive/<name>@<stamp>`). */
  kept: string | null;
  held_ms: number;
  pause_ms: number;
  total_ms: number;
  copied: { files: number; bytes: number; final_files: number; final_bytes: number };
  steps: Array<{ step: string; ms: number }>;
  message: string;
}

export class Mover {
  constructor(
    private readonly ctx: FleetContext,
    private readonly mutex: KeyedMutex,
    private readonly supervisor: Supervisor,
    private readonly profiles: ProfileService,
    private readonly gate: TrafficGate,
  ) {}

  async move(name: string, o: MoveOptions, progress: Progress = noProgress): Promise<MoveResult> {
    return await this.mutex.run(name, async () => {
      const row = await this.profiles.get(name);
      const t = stepTimer(progress);
      const { step, steps } = t;
      if (row.tier !== "swarm")
        throw new Precondition(`${name} runs as ${row.tier}; only swarm profiles move between nodes`, {
          hint: `hermes-admin migrate ${name} --to swarm, then move it`,
        });
      if (row.status === "migrating") throw new Precondition(`${name} is being migrated or moved`);
      const swarm = this.ctx.drivers.for("swarm") as SwarmDriver;
      const from = row.node ?? swarm.identity.node;
      const base = { profile: name, from_node: from, to_node: o.node, held_ms: 0, pause_ms: 0, steps };
      const none = { files: 0, bytes: 0, final_files: 0, final_bytes: 0 };
      if (from === o.node) {
        step("noop", { reason: `already on ${o.node}` });
        return {
          ...base,
          outcome: "noop",
          generation: row.generation,
          path: row.profile_path,
          kept: null,
          total_ms: 0,
          copied: none,
          message: `${name} is already on ${o.node}`,
        };
      }
      const nodes = await swarm.nodes(0);
      const source = nodes.find((n) => n.name === from);
      const lost = !source || source.state !== "ready";
      if (lost && !o.fromLostNode)
        throw new Precondition(`${name}'s node ${from} is ${source?.state ?? "gone"}: it cannot hand the profile over`, {
          hint: `bring the node back; or, if it is gone for good, hermes-admin move ${name} --to-node ${o.node} --from-lost-node (copies the directory from where the fleet reaches it and fences the old task)`,
        });
      if (!lost && o.fromLostNode)
        throw new Precondition(`${name}'s node ${from} is ready: it is not lost`, {
          hint: `move it live: hermes-admin move ${name} --to-node ${o.node}`,
        });
      if (lost && !(await lstatOrUndefined(row.profile_path))?.isDirectory())
        throw new Precondition(`${name}'s directory ${row.profile_path} is not reachable from here`, {
          hint: "restore the profile from its latest backup instead (hermes-admin restore)",
        });
      const target = await swarm.node(o.node, 0);
      const { load } = nodeLoad(await this.ctx.registry.list(), swarm.identity.node);
      const why = unfit(target, { load, need: 0, maxPerNode: this.ctx.cfg.nodeMaxProfiles, ownRoot: this.ctx.cfg.profilesRoot });
      if (why) throw new Precondition(`node ${o.node} cannot take ${name}: ${why}`, { hint: "`hermes-admin nodes`" });
      const dir = join(rootOf(target, this.ctx.cfg.profilesRoot), name);
      if (await lstatOrUndefined(dir))
        throw new Conflict(`${dir} already exists on node ${o.node}`, {
          hint: "an earlier copy is there: check it, then remove it by hand (it is not this profile's live directory)",
        });
      if (lost) return await this.recover(row, o, dir, from, t);
      const live = row.desired_state === "running" && ["running", "starting"].includes(row.status);
      return live ? await this.live(row, o, dir, from, t) : await this.cold(row, o, dir, from, t);
    });
  }

  /**
   * The source node is lost: fence (remove its service; the archive below takes the files from any writer left there),
   * move the directory as for a stopped profile, then start it on the target when it should run.
   */
  private async recover(row: ProfileRow, o: MoveOptions, dir: string, from: string, t: StepTimer): Promise<MoveResult> {
    const swarm = this.ctx.drivers.for("swarm");
    await handoverEvent(this.ctx, row.name, o.actor, "recover-begin", "info", { from, to: o.node, reason: "node lost" });
    await this.supervisor.quietly(row.name, () => swarm.remove(specOf(this.ctx, row)));
    t.step("fenced", { service: "removed" });
    const r = await this.cold(row, o, dir, from, t);
    if (row.desired_state !== "running") return r;
    const moved = await this.profiles.get(row.name);
    await this.supervisor.quietly(row.name, () => startWorkload(this.ctx, moved, true));
    this.supervisor.started(row.name);
    t.step("started", { node: o.node });
    await handoverEvent(this.ctx, row.name, o.actor, "recover", "ok", { from, to: o.node, generation: r.generation });
    return {
      ...r,
      outcome: "recovered",
      total_ms: Math.round(performance.now() - t.t0),
      message: `${row.name} recovered from lost node ${from}: now runs on ${o.node} (generation ${r.generation})`,
    };
  }

  /** Nothing runs: copy, keep the old directory as an archive, point the row at the new node. */
  private async cold(row: ProfileRow, o: MoveOptions, dir: string, from: string, t: StepTimer): Promise<MoveResult> {
    // a stopped profile's service is kept scaled to 0: the old generation's goes (its replacement is made at start)
    await this.supervisor.quietly(row.name, () => this.ctx.drivers.for("swarm").remove(specOf(this.ctx, row)));
    const c = await copyTree(row.profile_path, dir);
    t.step("copied", { files: c.files, bytes: c.bytes });
    const gen = row.generation + 1;
    await writeConfig(
      dir,
      this.ctx.cfg.templateDir,
      this.profiles.renderInput({ ...row, generation: gen, node: o.node }, "swarm"),
      {
        uid: 0,
        gid: row.gid,
      },
    );
    await this.ctx.registry.update(row.name, { node: o.node, profile_path: dir, generation: gen, ...handlePatch(null) });
    const kept = await archiveProfileDir(dirname(row.profile_path), row.name, new Date(this.ctx.now()));
    t.step("switched", { kept });
    const total = Math.round(performance.now() - t.t0);
    await handoverEvent(this.ctx, row.name, o.actor, "move", "ok", {
      from,
      to: o.node,
      generation: gen,
      kept,
      running: false,
      total_ms: total,
    });
    return {
      profile: row.name,
      from_node: from,
      to_node: o.node,
      outcome: "moved-stopped",
      generation: gen,
      path: dir,
      kept: kept ? join(dirname(row.profile_path), ".archive", kept) : null,
      held_ms: 0,
      pause_ms: 0,
      total_ms: total,
      copied: { files: c.files, bytes: c.bytes, final_files: 0, final_bytes: 0 },
      steps: t.steps,
      message: `${row.name} (${row.status}) now lives on ${o.node}; it starts there`,
    };
  }

  private async live(row: ProfileRow, o: MoveOptions, dir: string, from: string, t: StepTimer): Promise<MoveResult> {
    const { name } = row;
    const swarm = this.ctx.drivers.for("swarm");
    const gen = row.generation + 1;
    const where = { generation: gen, node: o.node, dir };
    const oldSpec = specOf(this.ctx, row);
    const newSpec: WorkloadSpec = { ...specOf(this.ctx, row, where), standby: true };
    await this.ctx.registry.update(name, { status: "migrating" });
    await handoverEvent(this.ctx, name, o.actor, "move-begin", "info", { from, to: o.node, generation: gen });
    this.gate.maxHeldMs.delete(name);
    let held = false;
    let oldStopped = false;
    let released = false;
    let handle: WorkloadHandle | undefined;
    let holdStart = 0;
    const render = this.profiles.renderInput({ ...row, generation: gen, node: o.node }, "swarm");
    try {
      const pre = await copyTree(row.profile_path, dir);
      t.step("pre-copy", { files: pre.files, bytes: pre.bytes });
      await writeConfig(dir, this.ctx.cfg.templateDir, render, { uid: 0, gid: row.gid });
      handle = await swarm.start(newSpec);
      t.step("standby-start", { node: o.node });
      const ep = await endpointOf(this.ctx, row, where);
      await waitHealthy({
        port: ep.port,
        host: ep.host,
        owner: ep.owner,
        timeoutMs: this.ctx.cfg.startTimeoutMs,
        intervalMs: 20,
        accept: (r) => r.status === "standby",
        alive: async () => (await swarm.inspect(newSpec, handle)).running,
      });
      t.step("standby-healthy", { at: `${ep.host}:${ep.port}` });
      this.gate.hold(name);
      held = true;
      holdStart = performance.now();
      t.step("hold");
      const drained = await this.gate.drain(name, o.drainTimeoutMs ?? 10_000);
      t.step("drained", { complete: drained });
      // the source hands its state over (state.db closed when it answers): the copy after it is consistent, and its
      // task is stopped after the switch, out of the pause (the swarm takes seconds to stop a task on another node).
      // A runtime that cannot release (an older one) is stopped here instead.
      try {
        await releaseAt(await endpointOf(this.ctx, row), row.profile_path, row.uid);
        released = true;
        t.step("source-released");
      } catch (e) {
        await this.supervisor.quietly(name, () => swarm.stop(oldSpec, { timeoutMs: this.ctx.cfg.stopTimeoutMs }));
        oldStopped = true;
        t.step("source-stopped", { release: (e as Error).message });
      }
      const fin = await copyTree(row.profile_path, dir, { sync: true });
      // the sync brought the source's config.yaml back: this node's (generation, data-service URL) again
      await writeConfig(dir, this.ctx.cfg.templateDir, render, { uid: 0, gid: row.gid });
      t.step("final-sync", { files: fin.files, bytes: fin.bytes, removed: fin.removed });
      await activateAt(ep, dir, row.uid);
      await waitHealthy({ port: ep.port, host: ep.host, owner: ep.owner, timeoutMs: 10_000, intervalMs: 10 });
      t.step("activated");
      await this.ctx.registry.update(name, {
        node: o.node,
        profile_path: dir,
        generation: gen,
        ...handlePatch(handle),
        status: "running",
        last_error: null,
        last_started_at: new Date(this.ctx.now()).toISOString(),
        last_health_check: new Date(this.ctx.now()).toISOString(),
      });
      this.supervisor.started(name);
      this.gate.release(name);
      held = false;
      const pause = Math.round(performance.now() - holdStart);
      t.step("switched", { pause_ms: pause });
      await swarm.remove(oldSpec).catch(() => undefined);
      const kept = await archiveProfileDir(dirname(row.profile_path), name, new Date(this.ctx.now()));
      t.step("source-kept", { archive: kept });
      const total = Math.round(performance.now() - t.t0);
      const heldMs = Math.round(this.gate.maxHeldMs.get(name) ?? 0);
      const copied = { files: pre.files, bytes: pre.bytes, final_files: fin.files, final_bytes: fin.bytes };
      await handoverEvent(this.ctx, name, o.actor, "move", "ok", {
        from,
        to: o.node,
        generation: gen,
        pause_ms: pause,
        held_ms: heldMs,
        total_ms: total,
        kept,
        copied,
        steps: t.steps,
      });
      return {
        profile: name,
        from_node: from,
        to_node: o.node,
        outcome: "moved",
        generation: gen,
        path: dir,
        kept: kept ? join(dirname(row.profile_path), ".archive", kept) : null,
        held_ms: heldMs,
        pause_ms: pause,
        total_ms: total,
        copied,
        steps: t.steps,
        message: `${name} now runs on ${o.node} (generation ${gen}); requests paused ${pause} ms`,
      };
    } catch (err) {
      const reason = (err as Error).message;
      t.step("rollback", { reason });
      await swarm.stop({ ...newSpec, standby: false }, { timeoutMs: 3_000 }).catch(() => undefined);
      await swarm.remove(newSpec).catch(() => undefined);
      await removeProfileDir(dirname(dir), name).catch(() => undefined);
      let restartError: string | undefined;
      let restored: WorkloadHandle | undefined;
      if (released && !oldStopped) {
        // a released runtime never serves again: its task is replaced by a fresh one of the same generation
        await this.supervisor
          .quietly(name, () => swarm.stop(oldSpec, { timeoutMs: this.ctx.cfg.stopTimeoutMs }))
          .catch(() => undefined);
        oldStopped = true;
      }
      if (oldStopped) {
        try {
          restored = await swarm.start(oldSpec);
          const ep = await endpointOf(this.ctx, row);
          await waitHealthy({ port: ep.port, host: ep.host, owner: ep.owner, timeoutMs: this.ctx.cfg.startTimeoutMs }).catch(
            () => undefined,
          );
          this.supervisor.started(name);
        } catch (e) {
          restartError = (e as Error).message;
        }
      }
      const what = `move to ${o.node}`;
      await settleRollback(this.ctx, {
        name,
        what,
        still: `runs on ${from}`,
        reason,
        restartError,
        restored: restored ? handlePatch(restored) : {},
        held,
        release: () => this.gate.release(name),
      });
      await handoverEvent(this.ctx, name, o.actor, "move", "error", { from, to: o.node, reason, steps: t.steps });
      throw rollbackError(err, { name, what, still: `runs on ${from}`, reason }, t);
    }
  }
}
