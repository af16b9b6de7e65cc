/**
 * The front door: `/p/<profile>/...` is proxied to wherever the profile runs now, so its URL never changes across
 * restarts, tiers and migrations. While a profile is being handed over, new requests are held (bounded count and
 * deadline) and released to the new home; callers see latency, not errors. A sleeping (hibernated) profile is woken by
 * the first request that reaches it; that request and the ones behind it wait for the wake (bounded by the same deadline)
 * and a wake that fails answers 503 with its reason.
 */
import { type IncomingMessage, request, type ServerResponse } from "node:http";
import { DomainError, type Logger, sendError } from "@twilight/core";
import { squatter } from "../lib/sockets.js";

/**
 * Where a profile is reachable now: its host port on 127.0.0.1 and the uid that must be listening there, or (a swarm
 * profile on another node) that node's address, where the port is the task's own.
 */
export type Upstream =
  | { port: number; owner: number; host?: undefined }
  | { port: number; host: string; owner?: undefined }
  | { unknown: true }
  | { sleeping: true }
  | { down: string /* its status, e.g. stopped */ };

export interface FrontDoorOptions {
  resolve: (profile: string) => Promise<Upstream>;
  log: Logger;
  /** Longest silence from an upstream before the request fails with 504 (default 120 s). */
  upstreamIdleMs?: number;
  /** Who listens on a port (default: /proc/net/tcp); tests inject. */
  squatter?: (port: number, owner: number) => string | undefined;
  maxHeld?: number;
  holdDeadlineMs?: number;
  onRequest?: (profile: string, status: number, seconds: number, heldMs: number) => void;
  /** Wake a sleeping profile (resolves when it answers, rejects with the reason it cannot); none: sleeping is down. */
  wake?: (profile: string) => Promise<void>;
}

interface Gate {
  waiters: Array<() => void>;
  since: number;
}

const HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

export class FrontDoor {
  private readonly gates = new Map<string, Gate>();
  private readonly inflight = new Map<string, number>();
  private readonly drainWaiters = new Map<string, Array<() => void>>();
  private readonly maxHeld: number;
  private readonly deadlineMs: number;
  /** Longest time any request was held, per profile (for migration reports). */
  readonly maxHeldMs = new Map<string, number>();
  /** When each profile last had a request begin or end here (for the idle policy). */
  private readonly lastSeen = new Map<string, number>();

  constructor(private readonly o: FrontDoorOptions) {
    this.maxHeld = o.maxHeld ?? 1000;
    this.deadlineMs = o.holdDeadlineMs ?? 30_000;
  }

  /** Start holding new requests for `profile`. */
  hold(profile: string): void {
    if (!this.gates.has(profile)) this.gates.set(profile, { waiters: [], since: Date.now() });
  }

  /** Release held requests; they go to wherever `resolve` now says. */
  release(profile: string): void {
    const g = this.gates.get(profile);
    this.gates.delete(profile);
    for (const w of g?.waiters ?? []) w();
  }

  /** Requests waiting at the gate of `profile`. */
  heldCount(profile: string): number {
    return this.gates.get(profile)?.waiters.length ?? 0;
  }

  inFlight(profile: string): number {
    return this.inflight.get(profile) ?? 0;
  }

  /** Epoch ms of the last request activity for `profile` seen by this front door (undefined: none yet). */
  lastRequestAt(profile: string): number | undefined {
    return this.lastSeen.get(profile);
  }

  /** Wait until no request of `profile` is in flight (bounded); resolves false on timeout. */
  async drain(profile: string, timeoutMs: number): Promise<boolean> {
    if (this.inFlight(profile) === 0) return true;
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      const list = this.drainWaiters.get(profile) ?? [];
      list.push(() => {
        clearTimeout(t);
        resolve(true);
      });
      this.drainWaiters.set(profile, list);
    });
  }

  private async waitGate(profile: string): Promise<number> {
    const g = this.gates.get(profile);
    if (!g) return 0;
    if (g.waiters.length >= this.maxHeld)
      throw new DomainError("UNAVAILABLE", `profile ${profile} is moving and ${this.maxHeld} requests are already waiting`, {
        retryable: true,
        hint: "retry in a few seconds",
      });
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        g.waiters.splice(g.waiters.indexOf(done), 1);
        reject(
          new DomainError("TIMEOUT", `profile ${profile} did not come back within ${this.deadlineMs} ms`, { retryable: true }),
        );
      }, this.deadlineMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      g.waiters.push(done);
    });
    return performance.now() - t0;
  }

  async handle(profile: string, rest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    let held = 0;
    this.lastSeen.set(profile, Date.now());
    try {
      // no await between "no gate" and counting the request in flight: a hold + drain that starts in between (a
      // migration, a sleep) would otherwise see nothing in flight and stop the workload this request is about to reach
      if (this.gates.has(profile)) held = await this.waitGate(profile);
      if (held > (this.maxHeldMs.get(profile) ?? 0)) this.maxHeldMs.set(profile, held);
      // counted from here: a drain waits for requests still resolving their upstream, not only those forwarding
      this.inflight.set(profile, this.inFlight(profile) + 1);
      try {
        let up = await this.o.resolve(profile);
        if ("sleeping" in up && this.o.wake) {
          const w0 = performance.now();
          await this.bounded(this.o.wake(profile), profile);
          held += performance.now() - w0;
          up = await this.o.resolve(profile);
        }
        if ("sleeping" in up)
          throw new DomainError("UNAVAILABLE", `profile ${profile} is sleeping`, { hint: `hermes-admin wake ${profile}` });
        if ("unknown" in up)
          throw new DomainError("NOT_FOUND", `no profile named ${profile}`, { hint: "hermes-admin list shows the profiles" });
        if ("down" in up)
          throw new DomainError("UNAVAILABLE", `profile ${profile} is ${up.down}`, { hint: `hermes-admin start ${profile}` });
        // never hand a caller's bearer key to whatever else listens on the profile's port
        const other = up.owner === undefined ? undefined : (this.o.squatter ?? squatter)(up.port, up.owner);
        if (other) {
          this.o.log.warn({ profile, port: up.port, reason: other }, "front door: refusing a port the profile does not own");
          throw new DomainError("UNAVAILABLE", `profile ${profile} is not reachable: ${other}`, {
            hint: `hermes-admin health ${profile}; hermes-admin restart ${profile}`,
          });
        }
        await this.forward(up.host ?? "127.0.0.1", up.port, rest, req, res);
      } finally {
        this.lastSeen.set(profile, Date.now());
        const n = this.inFlight(profile) - 1;
        this.inflight.set(profile, n);
        if (n === 0) for (const w of this.drainWaiters.get(profile)?.splice(0) ?? []) w();
      }
    } catch (e) {
      sendError(res, e, this.o.log);
    } finally {
      this.o.onRequest?.(profile, res.statusCode, (performance.now() - t0) / 1000, held);
    }
  }

  /** A wake the caller waits for, at most the hold deadline (the wake itself goes on and ends on its own). */
  private bounded(p: Promise<void>, profile: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new DomainError("TIMEOUT", `profile ${profile} did not wake within ${this.deadlineMs} ms`, {
              retryable: true,
              hint: `hermes-admin events ${profile}; hermes-admin logs ${profile}`,
            }),
          ),
        this.deadlineMs,
      );
      p.then(
        () => {
          clearTimeout(t);
          resolve();
        },
        (e) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  private forward(host: string, port: number, rest: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
    headers["x-forwarded-prefix"] = req.url?.slice(0, req.url.length - rest.length) ?? "";
    return new Promise<void>((resolve, reject) => {
      const up = request({ host, port, method: req.method, path: rest || "/", headers }, (ur) => {
        const out: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(ur.headers)) if (v !== undefined && !HOP.has(k)) out[k] = v;
        res.writeHead(ur.statusCode ?? 502, out);
        res.flushHeaders();
        ur.pipe(res);
        ur.on("end", resolve);
        ur.on("error", reject);
        res.on("close", () => {
          ur.destroy();
          resolve();
        });
      });
      up.setTimeout(this.o.upstreamIdleMs ?? 120_000, () => {
        up.destroy(
          new DomainError("TIMEOUT", `profile sent nothing for ${this.o.upstreamIdleMs ?? 120_000} ms`, {
            hint: "hermes-admin logs <name>",
          }),
        );
      });
      up.on("error", (e) =>
        reject(
          e instanceof DomainError
            ? e
            : new DomainError("UPSTREAM", `profile did not answer: ${e.message}`, {
                retryable: true,
                hint: "hermes-admin health <name>",
              }),
        ),
      );
      req.pipe(up);
    });
  }
}
