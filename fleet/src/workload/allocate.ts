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

export interface PortLease {
  port: number;
  /** Give the port back to the pool (once its registry row records it, or the operation failed). */
  release(): void;
}

/**
 * Ports handed out but not yet recorded in a registry row (a spawn or a migration's standby in flight): a port is leased
 * before its probe is awaited, so two concurrent allocations never get the same one.
 */
export class PortLeases {
  private readonly held = new Set<number>();

  async lease(range: { low: number; high: number }, inRegistry: Set<number>): Promise<PortLease> {
    for (let n = range.low; n <= range.high; n++) {
      if (inRegistry.has(n) || this.held.has(n)) continue;
      this.held.add(n);
      if (await portIsFree(n)) return { port: n, release: () => void this.held.delete(n) };
      this.held.delete(n);
    }
    throw new Unavailable(`no free port in ${range.low}-${range.high}`, {
      hint: "widen FLEET_PORT_RANGE or remove unused profiles",
    });
  }

  get size(): number {
    return this.held.size;
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
export class UidLeases {
  private readonly held = new Set<number>();

  lease(range: { low: number; high: number }, taken: Set<number>): UidLease {
    const sys = systemUids();
    const uid = lowestFree(range, taken, (n) => !sys.has(n) && !this.held.has(n));
    if (uid === undefined) throw new Unavailable(`no free uid in ${range.low}-${range.high}`, { hint: "widen FLEET_UID_RANGE" });
    this.held.add(uid);
    return { uid, release: () => void this.held.delete(uid) };
  }

  get size(): number {
    return this.held.size;
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
