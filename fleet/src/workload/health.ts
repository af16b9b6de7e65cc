/** Probing a profile's API server: GET /health on its host port, with a timeout. */
import { setTimeout as sleep } from "node:timers/promises";
import { TimeoutError } from "@twilight/core";
import { type ListenerSnapshot, squatter } from "../lib/sockets.js";

export interface HealthResult {
  ok: boolean;
  status?: string;
  httpStatus?: number;
  latencyMs: number;
  error?: string;
  body?: Record<string, unknown>;
}

/**
 * GET /health on 127.0.0.1:`port`. With `owner`, the probe is sent only when every socket listening there belongs to
 * that uid: another tenant squatting the port while the profile restarts can neither answer for it nor mark it running.
 */
export async function probeHealth(
  target: number | { host: string; port: number },
  timeoutMs = 2000,
  owner?: number,
  snapshot?: ListenerSnapshot,
): Promise<HealthResult> {
  const t0 = performance.now();
  const { host, port } = typeof target === "number" ? { host: "127.0.0.1", port: target } : target;
  const other = owner === undefined ? undefined : squatter(port, owner, undefined, snapshot);
  if (other) return { ok: false, latencyMs: 0, error: other };
  try {
    const res = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    const latencyMs = Math.round(performance.now() - t0);
    return { ok: res.ok && body.status === "ok", status: String(body.status ?? ""), httpStatus: res.status, latencyMs, body };
  } catch (e) {
    return { ok: false, latencyMs: Math.round(performance.now() - t0), error: (e as Error).message };
  }
}

/** Poll until healthy; `alive` lets the caller fail fast when the workload died meanwhile. */
export async function waitHealthy(opts: {
  port: number;
  /** Another node's address (no listener check there); default 127.0.0.1. */
  host?: string;
  timeoutMs: number;
  /** The uid that must own the listening socket (see probeHealth). */
  owner?: number;
  alive?: () => Promise<boolean>;
  intervalMs?: number;
  accept?: (r: HealthResult) => boolean;
}): Promise<HealthResult> {
  const deadline = Date.now() + opts.timeoutMs;
  const accept = opts.accept ?? ((r: HealthResult) => r.ok);
  let last: HealthResult = { ok: false, latencyMs: 0, error: "not probed" };
  while (Date.now() < deadline) {
    // the listener's owner is checked once an answer would be accepted, not before every poll: an unauthenticated
    // GET /health carries nothing, and one /proc/net/tcp read per 10 ms poll was the fleet's largest cost at 100+
    // profiles. An answer is accepted only while every listener on the port is the profile's own.
    last = await probeHealth(
      { host: opts.host ?? "127.0.0.1", port: opts.port },
      Math.min(2000, Math.max(100, deadline - Date.now())),
    );
    if (accept(last)) {
      const other = opts.owner === undefined ? undefined : squatter(opts.port, opts.owner);
      if (!other) return last;
      last = { ok: false, latencyMs: last.latencyMs, error: other };
    }
    if (opts.alive && !(await opts.alive()))
      throw new TimeoutError("the workload exited before it became healthy", { details: { last: last.error ?? last.status } });
    await sleep(opts.intervalMs ?? 50);
  }
  throw new TimeoutError(
    `not healthy after ${opts.timeoutMs} ms (last: ${last.error ?? `HTTP ${last.httpStatus} ${last.status}`})`,
  );
}
