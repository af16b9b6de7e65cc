import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import {
  apiRouteLabel,
  fleetMetrics,
  forgetProfile,
  recordCrash,
  recordDataService,
  recordFrontDoor,
  recordHealthCheck,
  recordMigration,
  recordStable,
  statusClass,
  syncProfiles,
} from "../metrics.js";

async function value(m: ReturnType<typeof fleetMetrics>, name: string, labels: Record<string, string> = {}) {
  const base = name.replace(/_(count|sum|bucket)$/, "");
  const metric = m.registry.getSingleMetric(name) ?? m.registry.getSingleMetric(base);
  assert.ok(metric, `${name} is registered`);
  const { values } = await metric.get();
  const hit = values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? name) === name && Object.entries(labels).every(([k, x]) => v.labels[k] === x),
  );
  return hit?.value;
}

describe("fleet metrics", () => {
  it("every series follows the naming conventions: twilight_ prefix, _total counters only, base units", async () => {
    const m = fleetMetrics({ opsDir: tmpdir() });
    for (const metric of await m.registry.getMetricsAsJSON()) {
      assert.match(metric.name, /^twilight_/, metric.name);
      if (/^twilight_(process|nodejs)_/.test(metric.name)) continue; // prom-client's own process metrics
      if (String(metric.type) === "counter") assert.match(metric.name, /_total$/, metric.name);
      else assert.doesNotMatch(metric.name, /_total$/, metric.name);
      assert.doesNotMatch(metric.name, /_(ms|milliseconds|minutes|kb|mb)$/, metric.name);
    }
  });

  it("keeps the properties the daemon already uses", () => {
    const m = fleetMetrics({ defaultMetrics: false });
    for (const k of ["registry", "profiles", "restarts", "apiRequests", "frontDoor", "held"] as const) assert.ok(m[k], k);
  });

  it("syncProfiles replaces the per-profile gauges (a removed profile disappears)", async () => {
    const m = fleetMetrics({ defaultMetrics: false });
    const row = { name: "alice", tier: "prefab", status: "running", desired_state: "running", restart_count: 2 };
    syncProfiles(m, [row, { ...row, name: "bob", tier: "container", status: "error", restart_count: 7 }]);
    assert.equal(await value(m, "twilight_profiles", { tier: "container", status: "error" }), 1);
    assert.equal(await value(m, "twilight_profile_restarts", { profile: "bob" }), 7);
    assert.equal(await value(m, "twilight_profile_info", { profile: "bob", status: "error", desired: "running" }), 1);
    syncProfiles(m, [row]);
    assert.equal(await value(m, "twilight_profile_restarts", { profile: "bob" }), undefined);
  });

  it("a crash loop: counted once on entry, gauge and backoff follow the supervisor's decisions", async () => {
    const m = fleetMetrics({ defaultMetrics: false });
    recordCrash(m, "p1", { action: "restart", delayMs: 1000, attempt: 1 });
    assert.equal(await value(m, "twilight_profile_crash_looping", { profile: "p1" }), 0);
    assert.equal(await value(m, "twilight_supervisor_backoff_seconds", { profile: "p1" }), 1);
    recordCrash(m, "p1", { action: "restart", delayMs: 2000, attempt: 2 });
    recordCrash(m, "p1", { action: "restart", delayMs: 4000, attempt: 3 });
    recordCrash(m, "p1", { action: "restart", delayMs: 8000, attempt: 4 });
    recordCrash(m, "p1", { action: "give-up", attempts: 4 });
    assert.equal(await value(m, "twilight_profile_crash_looping", { profile: "p1" }), 1);
    assert.equal(await value(m, "twilight_profile_crash_loops_total", { profile: "p1" }), 1);
    assert.equal(await value(m, "twilight_profile_restarts_total", { profile: "p1", reason: "crash" }), 4);
    assert.equal(await value(m, "twilight_supervisor_backoff_seconds", { profile: "p1" }), 0);
    assert.equal(await value(m, "twilight_supervisor_consecutive_crashes", { profile: "p1" }), 4);
    recordStable(m, "p1");
    assert.equal(await value(m, "twilight_profile_crash_looping", { profile: "p1" }), 0);
    recordCrash(m, "p1", { action: "restart", delayMs: 1000, attempt: 3 });
    assert.equal(await value(m, "twilight_profile_crash_loops_total", { profile: "p1" }), 2, "a new loop counts again");
  });

  it("health checks, migrations, the front door and the data service", async () => {
    const m = fleetMetrics({ defaultMetrics: false });
    recordHealthCheck(m, "p1", "prefab", true, 0.004);
    assert.equal(await value(m, "twilight_health_check_failures_total", { profile: "p1" }), 0, "exposed at zero");
    recordHealthCheck(m, "p1", "prefab", false, 2);
    assert.equal(await value(m, "twilight_health_check_failures_total", { profile: "p1" }), 1);
    assert.equal(await value(m, "twilight_profile_healthy", { profile: "p1" }), 0);
    recordMigration(m, { profile: "p1", from: "prefab", to: "container", ok: true, seconds: 6, pauseSeconds: 0.2, at: 5000 });
    assert.equal(await value(m, "twilight_migration_last_pause_seconds", { profile: "p1" }), 0.2);
    assert.equal(await value(m, "twilight_migration_last_timestamp_seconds", { profile: "p1" }), 5);
    assert.equal(await value(m, "twilight_migration_pause_seconds_count", { from: "prefab", to: "container" }), 1);
    recordFrontDoor(m, "p1", 200, 0.05, 0);
    recordFrontDoor(m, "p1", 204, 0.05, 150);
    assert.equal(await value(m, "twilight_frontdoor_request_duration_seconds_count", { profile: "p1", status: "2xx" }), 2);
    assert.equal(await value(m, "twilight_frontdoor_held_seconds_count", { profile: "p1" }), 1);
    recordDataService(m, true, 2);
    assert.equal(await value(m, "twilight_data_service_lag_open_days"), 2);
    forgetProfile(m, "p1");
    const text = await m.registry.metrics();
    assert.doesNotMatch(text, /profile="p1"/);
  });

  it("reads the ops filesystem at scrape time", async () => {
    const m = fleetMetrics({ defaultMetrics: false, opsDir: tmpdir() });
    const size = (await value(m, "twilight_ops_filesystem_size_bytes")) ?? 0;
    const avail = (await value(m, "twilight_ops_filesystem_avail_bytes")) ?? -1;
    assert.ok(size > 0 && avail >= 0 && avail <= size, `${avail} of ${size}`);
    const none = fleetMetrics({ defaultMetrics: false });
    assert.equal(none.registry.getSingleMetric("twilight_ops_filesystem_size_bytes"), undefined);
  });

  it("bounded labels: status classes and API routes", () => {
    assert.equal(statusClass(503), "5xx");
    assert.equal(statusClass(42), "other");
    assert.equal(apiRouteLabel("/v1/profiles/alice/restart?x=1"), "/v1/profiles/:name/restart");
    assert.equal(apiRouteLabel("/v1/profiles"), "/v1/profiles");
    assert.equal(apiRouteLabel("/metrics"), "/metrics");
  });
});
