/**
 * Who listens on a loopback port: the uid of each listening TCP socket, read from /proc/net/tcp and /proc/net/tcp6.
 * The fleet talks to a profile's port only when every listener there is the profile's own (its uid, or root for a
 * port Docker publishes), so another tenant that binds the port while the profile restarts gets nothing.
 */
import { readFileSync } from "node:fs";

const LISTEN = "0A";
/** Addresses a connection to 127.0.0.1 can reach: 127.0.0.1 and the wildcards (IPv4, IPv6, v4-mapped). */
const REACHES_LOOPBACK = new Set([
  "0100007F", // 127.0.0.1
  "00000000", // 0.0.0.0
  "00000000000000000000000000000000", // ::
  "0000000000000000FFFF00000100007F", // ::ffff:127.0.0.1
  "0000000000000000FFFF000000000000", // ::ffff:0.0.0.0
]);

export interface Listener {
  address: string;
  port: number;
  uid: number;
}

/** Parse /proc/net/tcp{,6}: listening sockets only. */
export function parseProcNetTcp(text: string): Listener[] {
  const out: Listener[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[3] !== LISTEN) continue;
    const [address, portHex] = (f[1] ?? "").split(":");
    out.push({ address: address ?? "", port: Number.parseInt(portHex ?? "", 16), uid: Number(f[7]) });
  }
  return out;
}

/**
 * Every loopback-reachable listening port and its uids, from one read of /proc/net/tcp{,6}. That read is the costly
 * part (the kernel lists every socket of the host: with 200 profiles, ~1 ms each), so a round over many ports (the
 * supervisor's health round) takes one snapshot rather than one read per port.
 */
export type ListenerSnapshot = ReadonlyMap<number, ReadonlySet<number>>;
export function listenerSnapshot(read = (p: string) => readFileSync(p, "utf8")): ListenerSnapshot {
  const out = new Map<number, Set<number>>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = read(file);
    } catch {
      continue;
    }
    for (const l of parseProcNetTcp(text)) {
      if (!REACHES_LOOPBACK.has(l.address)) continue;
      const s = out.get(l.port) ?? new Set<number>();
      s.add(l.uid);
      out.set(l.port, s);
    }
  }
  return out;
}

/** uids of the sockets listening where a connection to 127.0.0.1:`port` would land. */
export function loopbackListenerUids(port: number, read?: (p: string) => string, snapshot?: ListenerSnapshot): number[] {
  return [...((snapshot ?? listenerSnapshot(read)).get(port) ?? [])];
}

/** Undefined when only `expectedUid` listens there (or nothing does); else why the port is not the profile's. */
export function squatter(
  port: number,
  expectedUid: number,
  read?: (p: string) => string,
  snapshot?: ListenerSnapshot,
): string | undefined {
  const others = loopbackListenerUids(port, read, snapshot).filter((u) => u !== expectedUid);
  return others.length ? `port ${port} is held by uid ${others.join(", ")}, not the profile's uid ${expectedUid}` : undefined;
}
