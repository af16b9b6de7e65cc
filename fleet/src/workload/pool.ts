/**
 * The warm pool (prefab): a few profile runtimes started ahead of need, each under a uid and port reserved for it, with
 * no profile and no secret (the runtime's `pooled` mode). A spawn takes one: the profile is created with that uid and
 * port, its directory rendered, then the driver applies the profile's limits and console log to the process and the
 * runtime is sent its profile's environment and directory (`POST /admin/assign`, only to a listener of that uid) and
 * activates. The pool refills in the background. A pooled runtime holds nothing of any tenant, so the pool is simply
 * killed when the daemon stops and swept (by pid) when one starts.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { ProfileRow } from "../registry/types.js";
import type { PoolAbility, PooledRuntime } from "../runtime/types.js";
import { postAdmin } from "./admin-edge.js";
import { type PortLease, portLeases, type UidLease, uidLeases } from "./allocate.js";
import type { FleetContext } from "./context.js";
import { waitHealthy } from "./health.js";
import { handlePatch, prepareDirectory, specOf } from "./workloads.js";

/** A runtime taken from the pool for one spawn. */
export interface Ready {
  p: PooledRuntime;
  lease: PortLease;
  uidLease: UidLease;
}

export interface PoolStatus {
  size: number;
  ready: number;
  starting: number;
  /** Spawns served from the pool / started cold because it was empty (since the daemon started). */
  served: number;
  missed: number;
  lastError?: string;
}

export class WarmPool {
  private readonly ready: Ready[] = [];
  private starting = 0;
  private served = 0;
  private missed = 0;
  private lastError: string | undefined;
  private closed = false;
  private filling: Promise<void> | null = null;

  constructor(
    private readonly ctx: FleetContext,
    private readonly ability: PoolAbility,
    private readonly o: {
      size: number;
      /** uids a new one must not take (registry, running processes, owners of directories), besides the pool's own. */
      takenUids: () => Promise<Set<number>>;
      /** Told after every change of the pool's state (metrics). */
      onChange?: (s: PoolStatus) => void;
    },
  ) {}

  private changed(): void {
    this.o.onChange?.(this.status());
  }

  status(): PoolStatus {
    return {
      size: this.o.size,
      ready: this.ready.length,
      starting: this.starting,
      served: this.served,
      missed: this.missed,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Kill pooled runtimes a previous daemon left (they hold nothing; their uids and ports are not recorded anywhere). */
  async sweep(): Promise<number> {
    const left = await this.ability.listUnassigned();
    for (const w of left) {
      try {
        process.kill(-w.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    return left.length;
  }

  /** Start runtimes until the pool is full (in the background; one at a time: it must not crowd out the spawns). */
  fill(): Promise<void> {
    if (this.closed || this.o.size === 0) return Promise.resolve();
    this.filling ??= (async () => {
      try {
        while (!this.closed && this.ready.length + this.starting < this.o.size) {
          this.starting++;
          this.changed();
          try {
            const r = await this.startOne();
            if (this.closed) await this.drop(r);
            else this.ready.push(r);
            this.changed();
            this.lastError = undefined;
          } catch (e) {
            this.lastError = (e as Error).message;
            this.ctx.log.warn({ err: this.lastError }, "warm pool: could not start a runtime; spawns start cold");
            break; // tried again at the next fill (next spawn, or the supervisor's round)
          } finally {
            this.starting--;
            this.changed();
          }
        }
      } finally {
        this.filling = null;
      }
    })();
    return this.filling;
  }

  private async startOne(): Promise<Ready> {
    // leased, not just chosen: a spawn in flight (its row not written yet) and the pool never share a uid
    const uidMark = uidLeases.mark();
    const uidLease = uidLeases.lease(this.ctx.cfg.uids, await this.o.takenUids(), uidMark);
    const uid = uidLease.uid;
    let lease: PortLease | undefined;
    try {
      const portMark = portLeases.mark();
      const ports = new Set((await this.ctx.registry.list()).map((r) => r.port));
      lease = await portLeases.lease(this.ctx.cfg.ports, ports, portMark);
      // the pool's working directory holds nothing: root's, enterable by the pooled uids, not writable by them
      const dir = join(this.ctx.cfg.profilesRoot, ".pool");
      mkdirSync(dir, { recursive: true, mode: 0o711 });
      const slot = { uid, gid: uid, port: lease.port, dir, logDir: join(this.ctx.cfg.logDir, ".pool", String(uid)) };
      let gone = false;
      const p = await this.ability.startPooled(slot, () => {
        gone = true;
        this.forget(p.pid);
      });
      try {
        await waitHealthy({
          port: slot.port,
          owner: uid,
          timeoutMs: this.ctx.cfg.startTimeoutMs,
          intervalMs: 10,
          alive: async () => !gone,
          accept: (r) => r.status === "pooled",
        });
      } catch (e) {
        await this.ability.discard(p);
        throw e;
      }
      return { p, lease, uidLease };
    } catch (e) {
      uidLease.release();
      lease?.release();
      throw e;
    }
  }

  /** A pooled runtime died before it was taken: it leaves the pool (refilled at the next fill). */
  private forget(pid: number): void {
    const i = this.ready.findIndex((r) => r.p.pid === pid);
    if (i < 0) return;
    const [r] = this.ready.splice(i, 1);
    if (r) this.release(r);
    this.changed();
  }

  private release(r: Ready): void {
    r.uidLease.release();
    r.lease.release();
  }

  private async drop(r: Ready): Promise<void> {
    await this.ability.discard(r.p).catch(() => undefined);
    this.release(r);
  }

  /**
   * One ready runtime for a spawn, or undefined (the spawn starts cold). The caller gives it back or assigns it, and
   * the refill starts then, not now: starting a runtime (fork, exec, its ~200 ms of CPU, the /proc scans of the uid
   * allocation) beside the spawn it serves made that spawn 30-60 ms slower and twice as noisy on 2 cores.
   */
  take(): Ready | undefined {
    const r = this.ready.shift();
    if (r) this.served++;
    else if (this.o.size > 0) {
      this.missed++;
      void this.fill(); // a cold spawn gains nothing by waiting for the refill
    }
    this.changed();
    return r;
  }

  /** A taken runtime the spawn did not use (it failed before the start): stopped; the pool refills with a fresh one. */
  async giveBack(r: Ready): Promise<void> {
    await this.drop(r);
    void this.fill();
  }

  /**
   * Make a taken runtime the workload of `row` (created with its uid and port): the directory checked as for a cold
   * start, the profile's limits and log applied, its environment sent, and the row `running` once /health says ok.
   * On failure the runtime is killed (the caller then starts the profile cold, or rolls the spawn back).
   */
  async assign(r: Ready, row: ProfileRow): Promise<ProfileRow> {
    const spec = specOf(this.ctx, row);
    try {
      await prepareDirectory(this.ctx, row);
      const { env, cwd, handle } = await this.ability.claim(r.p, spec);
      await this.ctx.registry.update(row.name, {
        ...handlePatch(handle),
        status: "starting",
        last_started_at: new Date(this.ctx.now()).toISOString(),
      });
      // the profile's environment (its secrets) goes only to a listener of the slot's uid: the runtime itself
      await postAdmin({ host: "127.0.0.1", port: r.p.slot.port, owner: r.p.slot.uid }, "assign", r.p.key, { env, cwd });
      await waitHealthy({ port: spec.port, owner: spec.uid, timeoutMs: this.ctx.cfg.startTimeoutMs, intervalMs: 10 });
    } catch (e) {
      await this.ability.discard(r.p).catch(() => undefined);
      throw e;
    } finally {
      this.release(r); // the row holds the uid and port now (or the spawn is rolled back)
      void this.fill();
    }
    return await this.ctx.registry.update(row.name, {
      status: "running",
      last_health_check: new Date(this.ctx.now()).toISOString(),
      last_error: null,
    });
  }

  /** Daemon stop: the pooled runtimes go (they hold nothing; a restarted daemon starts new ones). */
  async close(): Promise<void> {
    this.closed = true;
    await this.filling?.catch(() => undefined);
    for (const r of this.ready.splice(0)) await this.drop(r);
  }
}
