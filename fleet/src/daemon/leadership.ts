/**
 * Leadership (issue 12): several daemons may serve one fleet on a PostgreSQL registry, and exactly one leads. The leader
 * holds the registry's advisory lock (registry/leader-lock.ts) and is the only daemon that changes anything: it
 * reconciles, supervises (adopt, restart, health), sleeps idle profiles, takes scheduled backups and serves the admin
 * API's changes. A standby serves reads, metrics and the front door from the shared registry, refuses changes with
 * NotLeader (503, retryable, naming the leader), and tries the lock every `pollMs`. The leader's process dies -> its
 * lock connection closes -> PostgreSQL frees the lock -> a standby takes it and runs the same takeover path as a
 * restarted daemon (reconcile, then adopt what runs, then the loops). On SQLite (one file on one host) the daemon
 * always leads.
 *
 * A network partition between the leader and PostgreSQL: PostgreSQL frees the lock only once it notices the dead
 * connection, which the lock session's server-side TCP keepalive / tcp_user_timeout bound (about 6 s, `ELECTION`).
 * The leader makes a round trip on its lock session every `heartbeatMs`; one that fails or takes longer than
 * `heartbeatTimeoutMs` means the lock may be gone, and the daemon gives up leadership at once, before PostgreSQL can
 * free the lock (`partitionBudget` checks the margin). Giving up is `lost()`: serve.ts exits the process (a process
 * supervisor restarts it, and it comes back as the standby). Exiting rather than stepping down in place: a leader has
 * operations in flight (spawns, migrations, restart timers, wakes) that have no cancellation, while an exit at any
 * instant is exactly the crash the fleet is built and tested to survive (e2e/crash.int.test.ts); profiles keep running.
 */
import { type Logger, NotLeader } from "@twilight/core";
import type { LeaderLockOptions, LeaderLockSession, ServerKeepalive } from "../registry/leader-lock.js";

/** standby -> taking-over (lock won, takeover path running) -> leader. A daemon that loses the lock does not come back. */
export type Role = "standby" | "taking-over" | "leader";

/** The exit code of a daemon that gave up leadership (EX_TEMPFAIL: a process supervisor restarts it, as the standby). */
export const EXIT_LOST_LEADERSHIP = 75;

/** The lock's name (its key is derived from it): one fleet per database. */
export const LEADER_LOCK = "twilight-fleet/leader";

export interface ElectionTiming {
  /** A standby tries the lock this often. */
  pollMs: number;
  /** The leader makes a round trip on its lock session this often... */
  heartbeatMs: number;
  /** ...and gives up leadership when one fails or takes longer than this. */
  heartbeatTimeoutMs: number;
  /** Client side: idle time before the lock connection's first TCP keepalive probe. */
  keepAliveMs: number;
  connectTimeoutMs: number;
  /** Server side (per session): when PostgreSQL gives up on a silent lock connection and frees the lock. */
  server: ServerKeepalive;
}

export const ELECTION: ElectionTiming = {
  pollMs: 1000,
  heartbeatMs: 1000,
  heartbeatTimeoutMs: 2000,
  keepAliveMs: 1000,
  connectTimeoutMs: 5000,
  server: { idleS: 3, intervalS: 1, count: 3, userTimeoutMs: 6000 },
};

/**
 * Pure: what a partition between the leader and PostgreSQL costs with this timing, in ms after the cut.
 * - the leader has given up by `leaderStopsByMs` (the next heartbeat, failed or timed out);
 * - PostgreSQL aborts the connection once nothing came from the leader for its detection time (Linux: the user
 *   timeout, probing after `idle` s; without one, idle + interval x count), checked at probe times. The leader's last
 *   packet came at most one heartbeat before the cut, so the lock is freed no sooner than `lockFreedAfterMs`;
 * - a standby holds the lock by `standbyLocksByMs` (then runs its takeover path).
 * `fenced`: the old leader has stopped before anyone else can hold the lock (never two supervisors).
 */
export function partitionBudget(t: ElectionTiming) {
  const s = t.server;
  const detectMs =
    s.userTimeoutMs > 0 ? Math.max(s.userTimeoutMs, (s.idleS + s.intervalS) * 1000) : (s.idleS + s.intervalS * s.count) * 1000;
  const leaderStopsByMs = t.heartbeatMs + t.heartbeatTimeoutMs;
  const lockFreedAfterMs = detectMs - t.heartbeatMs;
  const standbyLocksByMs = detectMs + s.intervalS * 1000 + t.pollMs;
  return { leaderStopsByMs, lockFreedAfterMs, standbyLocksByMs, fenced: leaderStopsByMs < lockFreedAfterMs };
}

export interface LeadershipOptions {
  /** Opens a lock session (registry `leaderLockFor`); undefined: an embedded registry, this daemon always leads. */
  openLock?: (o: LeaderLockOptions) => Promise<LeaderLockSession>;
  /** This daemon's URL: published while it leads, so standbys can name it. */
  url: () => string;
  /** The takeover path (reconcile, adopt, loops): the same as a restarted daemon's. Runs at most once. */
  takeover: () => Promise<void>;
  /** Leadership is gone (lock session lost, or a takeover failed): stop supervising now (serve.ts exits). */
  lost: (why: string) => void;
  changed?: (role: Role) => void;
  timing?: ElectionTiming;
  log: Logger;
}

export class Leadership {
  private current: Role = "standby";
  private session: LeaderLockSession | undefined;
  private leader: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly t: ElectionTiming;

  constructor(private readonly o: LeadershipOptions) {
    this.t = o.timing ?? ELECTION;
  }

  role(): Role {
    return this.current;
  }

  /** The leader's URL as last seen (this daemon's own while it leads; undefined when unknown). */
  leaderUrl(): string | undefined {
    return this.leader;
  }

  /**
   * Throws NotLeader unless this daemon leads and its takeover is done: every change passes here first. `anonymous`:
   * the caller is not an operator (the front door's), so the leader's admin address is not named.
   */
  assertLeader(o: { anonymous?: boolean } = {}): void {
    if (this.current === "leader") return;
    const retryAfterS = Math.max(1, Math.ceil((2 * this.t.pollMs) / 1000));
    throw this.current === "taking-over"
      ? new NotLeader({ takingOver: true, retryAfterS })
      : new NotLeader({ leaderUrl: o.anonymous ? undefined : this.leader, retryAfterS });
  }

  /**
   * The first round: resolves once this daemon leads (its takeover done) or stands by (then it keeps trying). A
   * takeover that fails here rejects (and lets the lock go): the daemon does not start.
   */
  async start(): Promise<Role> {
    if (!this.o.openLock) {
      await this.lead(true);
      return this.current;
    }
    await this.standbyRound(true);
    return this.current;
  }

  /** Stop electing; a leader's lock goes with its session (a standby takes over within `pollMs`). */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    const s = this.session;
    this.session = undefined;
    await s?.close();
  }

  private schedule(fn: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void fn(), ms).unref(); // the daemon's server keeps the process alive, not the election
  }

  private async standbyRound(initial = false): Promise<void> {
    if (this.stopped) return;
    let got: LeaderLockSession | undefined;
    try {
      const s = this.session ?? (await this.connect());
      if (await s.tryAcquire()) got = s;
      else this.leader = await s.holder();
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, "leader election: lock session failed; a new one next round");
      const s = this.session;
      this.session = undefined;
      void s?.close().catch(() => undefined);
    }
    if (got) return await this.won(got, initial);
    this.schedule(() => this.standbyRound(), this.t.pollMs);
  }

  private async connect(): Promise<LeaderLockSession> {
    const open = this.o.openLock as NonNullable<LeadershipOptions["openLock"]>;
    const s = await open({
      name: LEADER_LOCK,
      queryTimeoutMs: this.t.heartbeatTimeoutMs,
      connectTimeoutMs: this.t.connectTimeoutMs,
      keepAliveMs: this.t.keepAliveMs,
      server: this.t.server,
      log: this.o.log,
    });
    this.session = s;
    s.onLost((why) => {
      if (s !== this.session) return;
      if (this.current === "standby")
        this.session = undefined; // no lock in it: the next round opens another
      else this.lose(why);
    });
    return s;
  }

  private async won(s: LeaderLockSession, initial: boolean): Promise<void> {
    this.o.log.info("won the leader lock: taking over");
    this.setRole("taking-over");
    // the heartbeat runs during the takeover too: a long adoption on a host cut off from the database still gives up in time
    this.schedule(() => this.heartbeat(s), this.t.heartbeatMs);
    await s.publish(this.o.url()).catch((e: Error) => this.o.log.warn({ err: e.message }, "could not publish the leader URL"));
    await this.lead(initial);
  }

  private async lead(initial: boolean): Promise<void> {
    this.setRole("taking-over");
    try {
      await this.o.takeover();
    } catch (e) {
      const why = `takeover failed: ${(e as Error).message}`;
      if (!initial) return this.lose(why);
      await this.close();
      this.setRole("standby");
      throw e;
    }
    if (this.stopped) return;
    this.leader = this.o.url();
    this.setRole("leader");
  }

  private async heartbeat(s: LeaderLockSession): Promise<void> {
    if (this.stopped) return;
    try {
      await s.heartbeat();
    } catch (e) {
      return this.lose(`leader lock heartbeat failed: ${(e as Error).message}`);
    }
    this.schedule(() => this.heartbeat(s), this.t.heartbeatMs);
  }

  private lose(why: string): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    const was = this.current;
    const s = this.session;
    this.session = undefined;
    void s?.close().catch(() => undefined); // a lock still in it goes with it
    this.setRole("standby");
    this.o.log.error({ why, was }, "leadership lost");
    this.o.lost(why);
  }

  private setRole(r: Role): void {
    if (this.current === r) return;
    this.current = r;
    this.o.changed?.(r);
  }
}
