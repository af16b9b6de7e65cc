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

export async function allocatePort(range: { low: number; high: number }, used: Set<number>): Promise<number> {
  for (let n = range.low; n <= range.high; n++) {
    if (used.has(n)) continue;
    if (await portIsFree(n)) return n;
  }
  throw new Unavailable(`no free port in ${range.low}-${range.high}`, {
    hint: "widen FLEET_PORT_RANGE or remove unused profiles",
  });
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

export function allocateUid(range: { low: number; high: number }, used: Set<number>): number {
  const sys = systemUids();
  const uid = lowestFree(range, used, (n) => !sys.has(n));
  if (uid === undefined) throw new Unavailable(`no free uid in ${range.low}-${range.high}`, { hint: "widen FLEET_UID_RANGE" });
  return uid;
}
