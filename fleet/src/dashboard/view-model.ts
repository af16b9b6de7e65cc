/**
 * The dashboard's view model (pure, dependency-free: the browser loads it as an ES module). From the admin API's
 * `GET /v1/profiles`, the fleet's metrics signals and a short history of earlier polls it decides, per profile, whether it
 * is down, crash-looping, failing cites or slow, and orders the table worst first.
 */
import type { FleetSignals } from "./prom-text.js";

/** One element of `GET /v1/profiles` → `profiles` (fields the page reads; the API sends more). */
export interface ProfileJson {
  name: string;
  tier: string;
  status: string;
  desired_state?: string;
  port?: number;
  restart_count: number;
  last_error: string | null;
  last_health_check?: string | null;
  plan?: string | null;
  user_id?: string | null;
  order_id?: string | null;
  runtime?: { running?: boolean; uptime_s?: number | null; cpu_percent?: number | null; memory_bytes?: number | null };
  /** Optional, when the daemon adds the profile's own counters (see README): cumulative values. */
  metrics?: { cite_failures_total?: number; query_total?: number };
}

export type Flag = "down" | "crash-loop" | "cite-failures" | "slow" | "errors" | "moving" | "stopped";

export interface RowView {
  name: string;
  tier: string;
  status: string;
  desired: string;
  uptime: string;
  restarts: number;
  requestRate: string;
  p95: string;
  cpu: string;
  memory: string;
  plan: string;
  user: string;
  order: string;
  flags: Flag[];
  /** 3 down / crash loop, 2 cite failures, 1 slow or erroring, 0 fine. */
  severity: 0 | 1 | 2 | 3;
  lastError: string;
}

export interface Summary {
  total: number;
  running: number;
  down: number;
  crashLooping: number;
  citeFailing: number;
  slow: number;
}

export interface DashboardView {
  rows: RowView[];
  summary: Summary;
}

/** What one poll saw, kept for `windowMs` to see restarts and cite failures grow. */
export interface PollRecord {
  at: number;
  restarts: Record<string, number>;
  cites: Record<string, number>;
}

export interface Thresholds {
  /** Front-door p95 above this is slow (seconds). */
  slowP95Seconds: number;
  /** 5xx share above this is erroring. */
  errorRatio: number;
  /** This many restarts inside the window is a crash loop. */
  crashLoopRestarts: number;
  windowMs: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  slowP95Seconds: 5,
  errorRatio: 0.05,
  crashLoopRestarts: 3,
  windowMs: 10 * 60_000,
};

/** Add this poll to the history and drop polls older than the window (returns a new array). */
export function remember(history: readonly PollRecord[], profiles: readonly ProfileJson[], now: number, windowMs: number) {
  const restarts: Record<string, number> = {};
  const cites: Record<string, number> = {};
  for (const p of profiles) {
    restarts[p.name] = p.restart_count;
    if (p.metrics?.cite_failures_total !== undefined) cites[p.name] = p.metrics.cite_failures_total;
  }
  return [...history.filter((h) => now - h.at <= windowMs), { at: now, restarts, cites }];
}

/** Growth of a counter over the history (0 when unknown or reset). */
function growth(history: readonly PollRecord[], pick: (h: PollRecord) => number | undefined): number {
  const seen = history.map(pick).filter((v): v is number => v !== undefined);
  if (seen.length < 2) return 0;
  const first = seen[0] as number;
  const last = seen[seen.length - 1] as number;
  return Math.max(0, last - first);
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

export function formatSeconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return s === Number.POSITIVE_INFINITY ? "> max" : "–";
  return s < 1 ? `${Math.round(s * 1000)} ms` : `${s.toFixed(s < 10 ? 1 : 0)} s`;
}

export function formatBytes(b: number | null | undefined): string {
  if (b === null || b === undefined) return "–";
  if (b < 1024 * 1024) return `${Math.round(b / 1024)} KiB`;
  if (b < 1024 ** 3) return `${Math.round(b / 1024 / 1024)} MiB`;
  return `${(b / 1024 ** 3).toFixed(1)} GiB`;
}

function flagsOf(p: ProfileJson, sig: FleetSignals | undefined, history: readonly PollRecord[], t: Thresholds): Flag[] {
  const flags: Flag[] = [];
  const desired = p.desired_state ?? "running";
  if (desired === "stopped") flags.push("stopped");
  const down =
    desired === "running" &&
    (p.status === "error" ||
      p.status === "stopped" ||
      (p.status === "running" && (p.runtime?.running === false || sig?.healthy === false)));
  if (down) flags.push("down");
  const restarts = growth(history, (h) => h.restarts[p.name]);
  if (sig?.crashLooping || restarts >= t.crashLoopRestarts) flags.push("crash-loop");
  if (growth(history, (h) => h.cites[p.name]) > 0) flags.push("cite-failures");
  if (sig?.p95Seconds !== undefined && sig.p95Seconds > t.slowP95Seconds) flags.push("slow");
  if (sig?.errorRatio !== undefined && sig.errorRatio > t.errorRatio) flags.push("errors");
  if (p.status === "migrating" || p.status === "starting" || p.status === "creating") flags.push("moving");
  return flags;
}

function severityOf(flags: readonly Flag[]): RowView["severity"] {
  if (flags.includes("down") || flags.includes("crash-loop")) return 3;
  if (flags.includes("cite-failures")) return 2;
  if (flags.includes("slow") || flags.includes("errors")) return 1;
  return 0;
}

export function buildView(
  profiles: readonly ProfileJson[],
  o: { signals?: ReadonlyMap<string, FleetSignals>; history?: readonly PollRecord[]; thresholds?: Partial<Thresholds> } = {},
): DashboardView {
  const t = { ...DEFAULT_THRESHOLDS, ...o.thresholds };
  const history = o.history ?? [];
  const rows = profiles.map((p): RowView => {
    const sig = o.signals?.get(p.name);
    const flags = flagsOf(p, sig, history, t);
    const rate = sig?.requestRate;
    return {
      name: p.name,
      tier: p.tier,
      status: p.status,
      desired: p.desired_state ?? "running",
      uptime: formatDuration(p.runtime?.uptime_s),
      restarts: p.restart_count,
      requestRate: rate === undefined ? "–" : `${rate < 10 ? rate.toFixed(2) : Math.round(rate)}/s`,
      p95: formatSeconds(sig?.p95Seconds),
      cpu: p.runtime?.cpu_percent === null || p.runtime?.cpu_percent === undefined ? "–" : `${p.runtime.cpu_percent}%`,
      memory: formatBytes(p.runtime?.memory_bytes),
      plan: p.plan ?? "",
      user: p.user_id ?? "",
      order: p.order_id ?? "",
      flags,
      severity: severityOf(flags),
      lastError: (p.last_error ?? "").slice(0, 160),
    };
  });
  rows.sort((a, b) => b.severity - a.severity || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const count = (f: Flag) => rows.filter((r) => r.flags.includes(f)).length;
  return {
    rows,
    summary: {
      total: rows.length,
      running: rows.filter((r) => r.status === "running" && !r.flags.includes("down")).length,
      down: count("down"),
      crashLooping: count("crash-loop"),
      citeFailing: count("cite-failures"),
      slow: rows.filter((r) => r.flags.includes("slow") || r.flags.includes("errors")).length,
    },
  };
}

/** The sentence the page announces (aria-live) after each poll. */
export function summaryText(s: Summary): string {
  const bad = [
    s.down && `${s.down} down`,
    s.crashLooping && `${s.crashLooping} crash-looping`,
    s.citeFailing && `${s.citeFailing} failing cites`,
    s.slow && `${s.slow} slow or erroring`,
  ].filter(Boolean);
  return `${s.running} of ${s.total} profiles running${bad.length ? `; ${bad.join(", ")}` : "; all healthy"}.`;
}
