/** Allocation of a profile's host port and dedicated uid/gid: lowest free value in the configured range. */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { Unavailable } from "@twilight/core";

export function lowestFree(range: { low: number; high: number }, used: Set<number>, ok: (n: number) => boolean = () => true) {
  for (let n = range.low; n <= range.high; n++) if (!used.has(n) && ok(n)) return n;
  return undefined;
}

export async function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * Values handed out and not yet recorded in a registry row, plus the order they were given back in. A caller reads
 * what the registry holds (an await, during which other operations run), then leases: a value released meanwhile was
 * released because its row now records it, a row the caller's read may not have seen. So a lease takes a `mark()` made
 * before that read and treats everything released since as taken (found by the payment bench: 50 concurrent paid
 * spawns and the pool's refill, one got a uid a row had just taken and the spawn failed with "uid already taken").
 */
class Leases {
  protected readonly held = new Set<number>();
  private seq = 0;
  private readonly released = new Map<number, { seq: number; at: number }>();

  /** Take before reading the registry; pass to lease(). */
  mark(): number {
    return this.seq;
  }

  /** Held now, or given back after `since` (its row may be newer than the caller's read of the registry). */
  protected busy(n: number, since: number | undefined): boolean {
    if (this.held.has(n)) return true;
    if (since === undefined) return false;
    const r = this.released.get(n);
    return r !== undefined && r.seq > since;
  }

  protected give(n: number): void {
    this.held.add(n);
  }

  protected giveBack(n: number): void {
    if (!this.held.delete(n)) return;
    const now = Date.now();
    this.released.delete(n);
    this.released.set(n, { seq: ++this.seq, at: now });
    // a read of the registry takes milliseconds to seconds: what was released ten minutes ago no longer matters
    for (const [k, v] of this.released) {
      if (v.at > now - 600_000) break;
      this.released.delete(k);
    }
  }

  get size(): number {
    return this.held.size;
  }
}

export interface PortLease {
  port: number;
  /** Give the port back to the pool (once its registry row records it, or the operation failed). */
  release(): void;
}

/**
 * Ports handed out but not yet recorded in a registry row (a spawn or a migration's standby in flight): a port is leased
 * before its probe is awaited, so two concurrent allocations never get the same one.
 */
export class PortLeases extends Leases {
  /** `since`: a mark() taken before `inRegistry` was read (see Leases). */
  async lease(range: { low: number; high: number }, inRegistry: Set<number>, since?: number): Promise<PortLease> {
    for (let n = range.low; n <= range.high; n++) {
      if (inRegistry.has(n) || this.busy(n, since)) continue;
      this.give(n);
      if (await portIsFree(n)) return { port: n, release: () => this.giveBack(n) };
      this.held.delete(n); // never handed out: not a release
    }
    throw new Unavailable(`no free port in ${range.low}-${range.high}`, {
      hint: "widen FLEET_PORT_RANGE or remove unused profiles",
    });
  }
}

/** The daemon's leases (one daemon per process). */
export const portLeases = new PortLeases();

/** A port for a workload that is recorded at once (tests, benches): leased and released. */
export async function allocatePort(range: { low: number; high: number }, used: Set<number>): Promise<number> {
  const l = await portLeases.lease(range, used);
  l.release();
  return l.port;
}

/** uids named in /etc/passwd belong to someone else: never hand them to a profile. */
export function systemUids(): Set<number> {
  try {
    return new Set(
      readFileSync("/etc/passwd", "utf8")
        .split("\n")
        .map((l) => Number(l.split(":")[2]))
        .filter((n) => Number.isInteger(n)),
    );
  } catch {
    return new Set();
  }
}

export interface UidLease {
  uid: number;
  /** Give the uid back (once its registry row records it, or the operation failed). */
  release(): void;
}

/**
 * uids handed out but not yet recorded in a registry row: a spawn between its allocation and its row, and the warm
 * pool's runtimes until a spawn takes them. Both allocate from here, so neither can take the other's uid (found by
 * `npm run verify`: a pooled runtime got the uid of a container spawn in flight, and the spawn that took it conflicted).
 */
export class UidLeases extends Leases {
  /** `since`: a mark() taken before `taken` was read (see Leases). */
  lease(range: { low: number; high: number }, taken: Set<number>, since?: number): UidLease {
    const sys = systemUids();
    const uid = lowestFree(range, taken, (n) => !sys.has(n) && !this.busy(n, since));
    if (uid === undefined) throw new Unavailable(`no free uid in ${range.low}-${range.high}`, { hint: "widen FLEET_UID_RANGE" });
    this.give(uid);
    return { uid, release: () => this.giveBack(uid) };
  }
}

/** The daemon's uid leases (one daemon per process). */
export const uidLeases = new UidLeases();

export function allocateUid(range: { low: number; high: number }, used: Set<number>): number {
  const sys = systemUids();
  const uid = lowestFree(range, used, (n) => !sys.has(n));
  if (uid === undefined) throw new Unavailable(`no free uid in ${range.low}-${range.high}`, { hint: "widen FLEET_UID_RANGE" });
  return uid;
}
