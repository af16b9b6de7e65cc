/**
 * The fleet daemon's one metrics registry (`twilight_` prefix, base units, `_total` counters). Label values are bounded:
 * profile names, tiers, statuses, outcomes and status classes only (never a user id, path or error text).
 * The `record*` functions below are the only way the daemon should touch these series, one per event.
 */
import { statfsSync } from "node:fs";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export interface FleetMetricsOptions {
  /** When set, `twilight_ops_filesystem_{size,avail}_bytes` report the filesystem holding it (read at scrape). */
  opsDir?: string;
  /** Process metrics (`twilight_process_*`, `twilight_nodejs_*`); on by default. */
  defaultMetrics?: boolean;
}

/** Crash-loop threshold: this many consecutive crashes without reaching stable uptime. */
export const CRASH_LOOP_AFTER = 3;

const SPAWN_BUCKETS = [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 60, 120];
const PAUSE_BUCKETS = [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5];

export function fleetMetrics(o: FleetMetricsOptions = {}) {
  const registry = new Registry();
  if (o.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "twilight_" });
  const registers = [registry];
  const opsDir = o.opsDir;
  const disk = (which: "size" | "avail") =>
    new Gauge({
      name: `twilight_ops_filesystem_${which}_bytes`,
      help: `Filesystem holding the ops directory: ${which === "size" ? "total" : "available to unprivileged users"} bytes`,
      registers: opsDir ? registers : [],
      collect() {
        if (!opsDir) return;
        try {
          const s = statfsSync(opsDir);
          this.set(which === "size" ? s.blocks * s.bsize : s.bavail * s.bsize);
        } catch {
          this.reset(); // no sample rather than a wrong one
        }
      },
    });
  return {
    registry,
    /** Set at scrape time from the registry rows (`syncProfiles`). */
    profiles: new Gauge({
      name: "twilight_profiles",
      help: "Profiles by tier and status",
      labelNames: ["tier", "status"],
      registers,
    }),
    profileInfo: new Gauge({
      name: "twilight_profile_info",
      help: "One series per profile (value 1): its tier, status and desired state as labels",
      labelNames: ["profile", "tier", "status", "desired"],
      registers,
    }),
    /** Restart count stored in the registry (survives daemon restarts). */
    restarts: new Gauge({
      name: "twilight_profile_restarts",
      help: "Restarts recorded in the registry for a profile",
      labelNames: ["profile"],
      registers,
    }),
    restartsTotal: new Counter({
      name: "twilight_profile_restarts_total",
      help: "Restarts decided by the supervisor since the daemon started, by reason (crash, health)",
      labelNames: ["profile", "reason"],
      registers,
    }),
    crashLoops: new Counter({
      name: "twilight_profile_crash_loops_total",
      help: "Times a profile entered a crash loop (consecutive crashes reached the threshold, or the supervisor gave up)",
      labelNames: ["profile"],
      registers,
    }),
    crashLooping: new Gauge({
      name: "twilight_profile_crash_looping",
      help: "1 while a profile is crash-looping (restarting under backoff past the threshold, or given up), else 0",
      labelNames: ["profile"],
      registers,
    }),
    backoffSeconds: new Gauge({
      name: "twilight_supervisor_backoff_seconds",
      help: "Delay before the supervisor's next restart of a profile (0 when none is pending)",
      labelNames: ["profile"],
      registers,
    }),
    consecutiveCrashes: new Gauge({
      name: "twilight_supervisor_consecutive_crashes",
      help: "Consecutive crashes without reaching stable uptime",
      labelNames: ["profile"],
      registers,
    }),
    spawnDuration: new Histogram({
      name: "twilight_profile_spawn_duration_seconds",
      help: "Spawn or start of a profile until healthy, by tier and outcome",
      labelNames: ["tier", "outcome"],
      buckets: SPAWN_BUCKETS,
      registers,
    }),
    migrationDuration: new Histogram({
      name: "twilight_migration_duration_seconds",
      help: "Whole live migration, by source tier, target tier and outcome",
      labelNames: ["from", "to", "outcome"],
      buckets: SPAWN_BUCKETS,
      registers,
    }),
    migrationPause: new Histogram({
      name: "twilight_migration_pause_seconds",
      help: "Time the front door held a migrating profile's requests (the pause callers see)",
      labelNames: ["from", "to"],
      buckets: PAUSE_BUCKETS,
      registers,
    }),
    migrationLastPause: new Gauge({
      name: "twilight_migration_last_pause_seconds",
      help: "Pause of the last migration of a profile",
      labelNames: ["profile"],
      registers,
    }),
    migrationLastAt: new Gauge({
      name: "twilight_migration_last_timestamp_seconds",
      help: "When the last migration of a profile finished (Unix seconds)",
      labelNames: ["profile"],
      registers,
    }),
    healthDuration: new Histogram({
      name: "twilight_health_check_duration_seconds",
      help: "Health probe latency, by tier and outcome (ok, failed)",
      labelNames: ["tier", "outcome"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    healthFailures: new Counter({
      name: "twilight_health_check_failures_total",
      help: "Failed health probes per profile",
      labelNames: ["profile"],
      registers,
    }),
    healthy: new Gauge({
      name: "twilight_profile_healthy",
      help: "1 when the last health probe of a profile succeeded, else 0",
      labelNames: ["profile"],
      registers,
    }),
    apiRequests: new Counter({
      name: "twilight_api_requests_total",
      help: "Admin API requests",
      labelNames: ["method", "route", "status"],
      registers,
    }),
    frontDoor: new Histogram({
      name: "twilight_frontdoor_request_duration_seconds",
      help: "Front-door requests by profile and status class (2xx, 4xx, 5xx)",
      labelNames: ["profile", "status"],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    held: new Histogram({
      name: "twilight_frontdoor_held_seconds",
      help: "Time requests were held while their profile moved",
      labelNames: ["profile"],
      buckets: PAUSE_BUCKETS,
      registers,
    }),
    heldNow: new Gauge({
      name: "twilight_frontdoor_held_requests",
      help: "Requests being held right now for a profile",
      labelNames: ["profile"],
      registers,
    }),
    sleeps: new Counter({
      name: "twilight_profile_sleeps_total",
      help: "Profiles put to sleep (hibernated), by tier and reason (idle, operator)",
      labelNames: ["tier", "reason"],
      registers,
    }),
    wakes: new Histogram({
      name: "twilight_profile_wake_seconds",
      help: "Time to wake a sleeping profile until it answers, by tier and result (ok, error)",
      labelNames: ["tier", "result"],
      buckets: SPAWN_BUCKETS,
      registers,
    }),
    dataServiceUp: new Gauge({
      name: "twilight_data_service_up",
      help: "1 when the fleet's last probe of the data service answered, else 0",
      registers,
    }),
    dataServiceLag: new Gauge({
      name: "twilight_data_service_lag_open_days",
      help: "Open trading days the data service's newest daily bar is behind, as the fleet last saw it",
      registers,
    }),
    /** Set on every change of this daemon's role (daemon/leadership.ts). */
    leader: new Gauge({
      name: "twilight_fleet_leader",
      help: "1 while this daemon leads the fleet (holds the leader lock, supervises, makes changes), 0 while it stands by",
      registers,
    }),
    /** Set at scrape time from the warm pool's state (daemon/serve.ts), while this daemon leads and has one. */
    poolRuntimes: new Gauge({
      name: "twilight_pool_runtimes",
      help: "Warm pool of prefab runtimes: ready (started, no profile) and starting",
      labelNames: ["state"],
      registers,
    }),
    poolSpawns: new Gauge({
      name: "twilight_pool_spawns",
      help: "Prefab spawns since the daemon started: served from the warm pool, or started cold (pool empty)",
      labelNames: ["source"],
      registers,
    }),
    opsSize: disk("size"),
    opsAvail: disk("avail"),
    /** Profiles crash-looping now (so `recordCrash` counts each loop once). */
    loopingNow: new Set<string>(),
  };
}
export type FleetMetrics = ReturnType<typeof fleetMetrics>;

/** The registry row fields the gauges need (a structural subset of ProfileRow). */
export interface ProfileSample {
  name: string;
  tier: string;
  status: string;
  desired_state: string;
  restart_count: number;
}

/** At scrape time: replace the per-profile gauges from the registry rows (removed profiles disappear). */
export function syncProfiles(m: FleetMetrics, rows: readonly ProfileSample[]): void {
  m.profiles.reset();
  m.profileInfo.reset();
  m.restarts.reset();
  for (const r of rows) {
    m.profiles.inc({ tier: r.tier, status: r.status });
    m.profileInfo.set({ profile: r.name, tier: r.tier, status: r.status, desired: r.desired_state }, 1);
    m.restarts.set({ profile: r.name }, r.restart_count);
  }
}

/** Drop every per-profile series of a removed profile (series keyed by tier only are kept). */
export function forgetProfile(m: FleetMetrics, profile: string): void {
  for (const g of [
    m.crashLoops,
    m.crashLooping,
    m.backoffSeconds,
    m.consecutiveCrashes,
    m.migrationLastPause,
    m.migrationLastAt,
    m.healthFailures,
    m.healthy,
    m.held,
    m.heldNow,
  ])
    g.remove({ profile });
  for (const reason of RESTART_REASONS) m.restartsTotal.remove({ profile, reason });
  for (const status of STATUS_CLASSES) m.frontDoor.remove({ profile, status });
  m.loopingNow.delete(profile);
}

const RESTART_REASONS = ["crash", "health"] as const;
const STATUS_CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"] as const;

/** The supervisor's decision after a crash (the shape `onCrash` in supervisor/backoff.ts returns). */
export type CrashDecisionSample =
  | { action: "restart"; delayMs: number; attempt: number }
  | { action: "give-up"; attempts: number };

/** A profile crashed and the backoff policy decided: restart after a delay, or give up (the profile ends in error). */
export function recordCrash(m: FleetMetrics, profile: string, d: CrashDecisionSample): void {
  const attempts = d.action === "restart" ? d.attempt : d.attempts;
  const isLooping = d.action === "give-up" || attempts >= CRASH_LOOP_AFTER;
  m.consecutiveCrashes.set({ profile }, attempts);
  m.backoffSeconds.set({ profile }, d.action === "restart" ? d.delayMs / 1000 : 0);
  if (d.action === "restart") m.restartsTotal.inc({ profile, reason: "crash" });
  if (isLooping && !m.loopingNow.has(profile)) m.crashLoops.inc({ profile });
  if (isLooping) m.loopingNow.add(profile);
  else m.loopingNow.delete(profile);
  m.crashLooping.set({ profile }, isLooping ? 1 : 0);
}

/** A profile went to sleep. */
export function recordSleep(m: FleetMetrics, tier: string, reason: string): void {
  m.sleeps.inc({ tier, reason });
}

/** A wake ended (ok: the profile answers; error: it could not wake). */
export function recordWake(m: FleetMetrics, tier: string, ok: boolean, seconds: number): void {
  m.wakes.observe({ tier, result: ok ? "ok" : "error" }, seconds);
}

/** The delayed restart ran (the backoff is no longer pending). */
export function recordRestarted(m: FleetMetrics, profile: string): void {
  m.backoffSeconds.set({ profile }, 0);
}

/** The profile reached stable uptime (backoff reset) or was started/stopped by the operator: no crash loop any more. */
export function recordStable(m: FleetMetrics, profile: string): void {
  m.consecutiveCrashes.set({ profile }, 0);
  m.backoffSeconds.set({ profile }, 0);
  m.crashLooping.set({ profile }, 0);
  m.loopingNow.delete(profile);
}

/** The supervisor restarted a profile because its health checks kept failing. */
export function recordHealthRestart(m: FleetMetrics, profile: string): void {
  m.restartsTotal.inc({ profile, reason: "health" });
}

/** One health probe. `tier` labels the latency histogram; failures are counted per profile. */
export function recordHealthCheck(m: FleetMetrics, profile: string, tier: string, ok: boolean, seconds: number): void {
  m.healthDuration.observe({ tier, outcome: ok ? "ok" : "failed" }, seconds);
  m.healthy.set({ profile }, ok ? 1 : 0);
  if (ok) m.healthFailures.inc({ profile }, 0);
  else m.healthFailures.inc({ profile });
}

/** A spawn or start finished (healthy or failed). */
export function recordSpawn(m: FleetMetrics, tier: string, ok: boolean, seconds: number): void {
  m.spawnDuration.observe({ tier, outcome: ok ? "ok" : "failed" }, seconds);
}

/** A live migration finished. `pauseSeconds` is how long the front door held the profile's requests. */
export function recordMigration(
  m: FleetMetrics,
  e: {
    profile: string;
    from: string;
    to: string;
    ok: boolean;
    seconds: number;
    pauseSeconds: number /** ms since epoch, default now */;
    at?: number;
  },
): void {
  m.migrationDuration.observe({ from: e.from, to: e.to, outcome: e.ok ? "ok" : "failed" }, e.seconds);
  m.migrationPause.observe({ from: e.from, to: e.to }, e.pauseSeconds);
  m.migrationLastPause.set({ profile: e.profile }, e.pauseSeconds);
  m.migrationLastAt.set({ profile: e.profile }, (e.at ?? Date.now()) / 1000);
}

/** HTTP status as a bounded class label: 2xx, 3xx, 4xx, 5xx (anything else is "other"). */
export function statusClass(status: number): string {
  return status >= 200 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
}

/** One proxied front-door request (the FrontDoor's `onRequest` callback). */
export function recordFrontDoor(m: FleetMetrics, profile: string, status: number, seconds: number, heldMs: number): void {
  m.frontDoor.observe({ profile, status: statusClass(status) }, seconds);
  if (heldMs > 0) m.held.observe({ profile }, heldMs / 1000);
}

/** How many requests are being held for a profile now (call on hold, on each queued request and on release). */
export function recordHeld(m: FleetMetrics, profile: string, count: number): void {
  m.heldNow.set({ profile }, count);
}

/** The fleet's probe of the data service: `lagOpenDays` from its /health (undefined when it did not answer). */
export function recordDataService(m: FleetMetrics, up: boolean, lagOpenDays?: number): void {
  m.dataServiceUp.set(up ? 1 : 0);
  if (lagOpenDays !== undefined) m.dataServiceLag.set(lagOpenDays);
}

/** This daemon's role: 1 once it leads (its takeover done), 0 while it stands by or is still taking over. */
export function recordLeadership(m: FleetMetrics, leads: boolean): void {
  m.leader.set(leads ? 1 : 0);
}

/** Admin API route as a bounded label: `/v1/profiles/<name>/start` becomes `/v1/profiles/:name/start`. */
export function apiRouteLabel(url: string): string {
  const path = url.split("?")[0] ?? "";
  const parts = path.split("/").slice(0, 5);
  if (parts[1] === "v1" && parts[2] === "profiles" && parts[3]) parts[3] = ":name";
  if (parts[1] === "p") return "/p/:name";
  return parts.join("/") || "/";
}
