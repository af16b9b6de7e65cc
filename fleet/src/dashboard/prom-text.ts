/**
 * A small parser for the Prometheus text exposition format (what prom-client's `registry.metrics()` writes), and the
 * per-profile numbers the dashboard derives from two scrapes of the fleet's `/metrics`. Pure and dependency-free: the
 * browser loads this file as an ES module.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

function unescapeLabel(s: string): string {
  return s.replace(/\\(["\\n])/g, (_m, c: string) => (c === "n" ? "\n" : c));
}

function number(s: string): number {
  if (s === "+Inf") return Number.POSITIVE_INFINITY;
  if (s === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(s);
}

/** Every sample line; comments, blank and malformed lines are skipped. */
export function parsePromText(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    LABEL.lastIndex = 0;
    let ok = true;
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body);
      if (!l) {
        ok = false;
        break;
      }
      labels[l[1] as string] = unescapeLabel(l[2] as string);
    }
    const value = number(m[3] as string);
    if (ok && !Number.isNaN(value)) out.push({ name: m[1] as string, labels, value });
  }
  return out;
}

/** What the fleet's own metrics say about one profile. */
export interface FleetSignals {
  crashLooping?: boolean;
  healthy?: boolean;
  backoffSeconds?: number;
  /** Front-door requests per second between the two scrapes (all statuses). */
  requestRate?: number;
  /** Share of those requests that were 5xx. */
  errorRatio?: number;
  /** 95th percentile front-door latency between the two scrapes (bucket upper bound; seconds). */
  p95Seconds?: number;
}

const FD = "twilight_frontdoor_request_duration_seconds";

/** Cumulative front-door bucket counts per profile: le -> count (summed over status classes). */
function buckets(samples: readonly Sample[]): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const s of samples) {
    if (s.name !== `${FD}_bucket` || !s.labels.profile || s.labels.le === undefined) continue;
    const m = out.get(s.labels.profile) ?? new Map<number, number>();
    const le = number(s.labels.le);
    m.set(le, (m.get(le) ?? 0) + s.value);
    out.set(s.labels.profile, m);
  }
  return out;
}

function counts(samples: readonly Sample[], only5xx: boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples)
    if (s.name === `${FD}_count` && s.labels.profile && (!only5xx || s.labels.status === "5xx"))
      out.set(s.labels.profile, (out.get(s.labels.profile) ?? 0) + s.value);
  return out;
}

/** Quantile from cumulative bucket deltas: the upper bound of the first bucket holding the q-th request. */
export function bucketQuantile(q: number, delta: ReadonlyMap<number, number>): number | undefined {
  const les = [...delta.keys()].sort((a, b) => a - b);
  const total = delta.get(Number.POSITIVE_INFINITY) ?? (les.length ? (delta.get(les[les.length - 1] as number) ?? 0) : 0);
  if (total <= 0) return undefined;
  for (const le of les) if ((delta.get(le) ?? 0) >= q * total) return le;
  return undefined;
}

/**
 * Per-profile signals from the fleet's metrics. With a previous scrape (`prev`, `seconds` apart) rates and the p95 cover
 * that interval only; without one they are left out (cumulative numbers since the daemon started would mislead).
 */
export function fleetSignals(cur: readonly Sample[], prev?: readonly Sample[], seconds?: number): Map<string, FleetSignals> {
  const out = new Map<string, FleetSignals>();
  const get = (p: string) => {
    const s = out.get(p) ?? {};
    out.set(p, s);
    return s;
  };
  for (const s of cur) {
    const p = s.labels.profile;
    if (!p) continue;
    if (s.name === "twilight_profile_crash_looping") get(p).crashLooping = s.value === 1;
    else if (s.name === "twilight_profile_healthy") get(p).healthy = s.value === 1;
    else if (s.name === "twilight_supervisor_backoff_seconds") get(p).backoffSeconds = s.value;
  }
  if (!prev || !seconds || seconds <= 0) return out;
  const [c, pr, c5, p5] = [counts(cur, false), counts(prev, false), counts(cur, true), counts(prev, true)];
  const [bc, bp] = [buckets(cur), buckets(prev)];
  for (const [p, n] of c) {
    const d = n - (pr.get(p) ?? 0);
    if (d < 0) continue; // the daemon restarted between the scrapes
    const s = get(p);
    s.requestRate = d / seconds;
    if (d > 0) {
      s.errorRatio = Math.max(0, (c5.get(p) ?? 0) - (p5.get(p) ?? 0)) / d;
      const delta = new Map<number, number>();
      for (const [le, v] of bc.get(p) ?? []) delta.set(le, v - (bp.get(p)?.get(le) ?? 0));
      const q = bucketQuantile(0.95, delta);
      if (q !== undefined) s.p95Seconds = q;
    }
  }
  return out;
}
