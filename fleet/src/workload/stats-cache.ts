/**
 * CPU and memory of each workload, sampled in the background and read from memory: `hermes-admin list` used to wait
 * for a fresh Docker stats sample per container on every call (about 2 s). A read returns the last sample and its age,
 * and starts a refresh when it is older than `maxAgeMs` (never two at once for one profile); `sweep` refreshes every
 * running profile, a few at a time, so a list finds them warm.
 */
import type { WorkloadStats } from "../runtime/types.js";

export interface StatsSample {
  stats: WorkloadStats | null;
  /** How old the sample is; null before the first one. */
  age_ms: number | null;
}

export class StatsCache<R extends { name: string }> {
  private readonly samples = new Map<string, { at: number; stats: WorkloadStats | null }>();
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly sample: (row: R) => Promise<WorkloadStats | null>,
    private readonly o: { maxAgeMs: number; now: () => number; onError?: (name: string, e: unknown) => void },
  ) {}

  /** The last sample (instant), refreshed in the background when stale. */
  peek(row: R): StatsSample {
    const s = this.samples.get(row.name);
    const age = s ? Math.max(0, this.o.now() - s.at) : null;
    if (age === null || age > this.o.maxAgeMs) void this.refresh(row);
    return { stats: s?.stats ?? null, age_ms: age };
  }

  /** Sample one profile now (joins a refresh already running for it). */
  refresh(row: R): Promise<void> {
    const running = this.inflight.get(row.name);
    if (running) return running;
    const p = this.sample(row)
      .then((stats) => {
        this.samples.set(row.name, { at: this.o.now(), stats });
      })
      .catch((e) => this.o.onError?.(row.name, e))
      .finally(() => this.inflight.delete(row.name));
    this.inflight.set(row.name, p);
    return p;
  }

  /** Refresh every given profile, `concurrency` at a time; forget profiles that are not given. */
  async sweep(rows: readonly R[], concurrency = 4): Promise<void> {
    const names = new Set(rows.map((r) => r.name));
    for (const n of this.samples.keys()) if (!names.has(n)) this.samples.delete(n);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, rows.length) }, async () => {
        while (next < rows.length) await this.refresh(rows[next++] as R);
      }),
    );
  }

  forget(name: string): void {
    this.samples.delete(name);
  }
}
