import assert from "node:assert/strict";
import { test } from "node:test";
import {
  checkClockSkew,
  checkContainerNetwork,
  checkCrashLoops,
  checkDaemon,
  checkDaemonDocker,
  checkDataService,
  checkDisk,
  checkDockerd,
  checkImages,
  checkOpsDir,
  checkOrphans,
  checkPinnedKeys,
  checkPortRange,
  checkRegistry,
  checkSandbox,
  checkSecretFile,
  checkTransientRows,
  summarize,
} from "./doctor-checks.js";

const GiB = 1024 ** 3;

test("every non-pass row says why and what fixes it", () => {
  const rows = [
    checkDockerd({ endpoint: "unix:///nope", ok: false, error: "ENOENT" }),
    checkDaemonDocker({ connected: false }),
    checkDaemon({ pidFile: "/ops/fleet.pid", healthy: false }),
    checkSecretFile("admin-token", "/ops/admin-token", 0o100644, true),
    checkOpsDir("/ops", 0o40777),
    checkDisk({ path: "/ops", freeBytes: 0.1 * GiB, totalBytes: 100 * GiB, freeInodes: 10, totalInodes: 1000 }),
    checkTransientRows(
      [{ name: "a", status: "creating", updated_at: "2026-01-01T00:00:00Z" }],
      Date.parse("2026-01-01T01:00:00Z"),
      60_000,
    ),
    checkCrashLoops([{ name: "b", status: "error", desired_state: "running", restart_count: 10, last_error: "exit 1" }], 5),
    checkOrphans("containers", [{ name: "hermes-x-g1" }]),
    checkDataService({ name: "mcp", exists: false, running: false, url: "http://127.0.0.1:9100", health: null }),
    checkImages([{ ref: "twilight/hermes-profile:0.1.0", present: false }]),
    checkPortRange(10, { low: 1, high: 10 }),
    checkSandbox("prefab limits: processes by RLIMIT_NPROC only; memory NOT limited (no cgroup)"),
    checkRegistry({ backend: "sqlite", ok: false, detail: "PRAGMA integrity_check: row 3 missing" }),
  ];
  for (const r of rows) {
    assert.notEqual(r.status, "pass", r.id);
    assert.ok(r.why && r.fix, `${r.id} has why and fix`);
  }
  assert.equal(new Set(rows.map((r) => r.id)).size, rows.length, "ids are distinct");
});

test("dockerd: version when it answers, the socket and the cause when not", () => {
  const ok = checkDockerd({ endpoint: "unix:///var/run/docker.sock", ok: true, version: "20.10.24", apiVersion: "1.41" });
  assert.equal(ok.status, "pass");
  assert.match(ok.what, /20\.10\.24/);
  const down = checkDockerd({ endpoint: "unix:///nope.sock", ok: false, error: "ENOENT" });
  assert.equal(down.status, "fail");
  assert.match(down.what, /nope\.sock.*ENOENT/);
  assert.match(down.fix ?? "", /DOCKER_HOST/);
});

test("secret files: owner-only passes, group or world readable fails with chmod 600, absence depends", () => {
  assert.equal(checkSecretFile("t", "/f", 0o100600, true).status, "pass");
  assert.equal(checkSecretFile("t", "/f", 0o100400, true).status, "pass");
  const world = checkSecretFile("t", "/f", 0o100644, true);
  assert.equal(world.status, "fail");
  assert.match(world.why ?? "", /every user/);
  assert.equal(world.fix, "chmod 600 /f");
  assert.match(checkSecretFile("t", "/f", 0o100640, true).why ?? "", /group/);
  assert.equal(checkSecretFile("t", "/f", undefined, true).status, "warn");
  assert.equal(checkSecretFile("t", "/f", undefined, false).status, "pass");
});

test("ops dir: group/world writable fails; another owner warns; 755 and 700 pass", () => {
  assert.equal(checkOpsDir("/ops", 0o40755).status, "pass");
  assert.equal(checkOpsDir("/ops", 0o40700).status, "pass");
  assert.equal(checkOpsDir("/ops", 0o40775).status, "fail");
  assert.equal(checkOpsDir("/ops", 0o40757).status, "fail");
  assert.equal(checkOpsDir("/ops", 0o40755, 0, 1000).status, "warn");
  assert.equal(checkOpsDir("/ops", 0o40755, 1000, 0).status, "pass", "root may look at anyone's");
});

test("disk: thresholds on bytes, percent and inodes", () => {
  const d = (free: number, total: number, fi = 900, ti = 1000) =>
    checkDisk({ path: "/ops", freeBytes: free * GiB, totalBytes: total * GiB, freeInodes: fi, totalInodes: ti }).status;
  assert.equal(d(50, 100), "pass");
  assert.equal(d(5, 100), "warn");
  assert.equal(d(1.5, 10), "warn");
  assert.equal(d(0.4, 10), "fail");
  assert.equal(d(50, 100, 10, 1000), "fail", "inodes run out before bytes");
  assert.equal(d(50, 100, 50, 1000), "warn");
});

test("transient rows: only creating/starting/migrating past the grace period", () => {
  const now = Date.parse("2026-01-01T00:10:00Z");
  const rows = [
    { name: "fresh", status: "starting", updated_at: "2026-01-01T00:09:30Z" },
    { name: "ok", status: "running", updated_at: "2026-01-01T00:00:00Z" },
  ];
  assert.equal(checkTransientRows(rows, now, 120_000).status, "pass");
  const stuck = checkTransientRows(
    [...rows, { name: "old", status: "migrating", updated_at: "2026-01-01T00:00:00Z" }],
    now,
    120_000,
  );
  assert.equal(stuck.status, "fail");
  assert.match(stuck.what, /old \(migrating for 600 s\)/);
  assert.doesNotMatch(stuck.what, /fresh/);
  assert.match(stuck.fix ?? "", /hermes-admin down && hermes-admin up/);
});

test("crash loops: error fails, many restarts warn, a stopped profile's old count is ignored", () => {
  const base = { desired_state: "running", last_error: null };
  assert.equal(checkCrashLoops([{ ...base, name: "a", status: "running", restart_count: 2 }], 5).status, "pass");
  assert.equal(checkCrashLoops([{ ...base, name: "a", status: "running", restart_count: 5 }], 5).status, "warn");
  assert.equal(
    checkCrashLoops([{ ...base, name: "a", status: "stopped", desired_state: "stopped", restart_count: 9 }], 5).status,
    "pass",
  );
  const e = checkCrashLoops([{ ...base, name: "a", status: "error", restart_count: 10, last_error: "exit 1: boom" }], 5);
  assert.equal(e.status, "fail");
  assert.match(e.why ?? "", /boom/);
  assert.match(e.fix ?? "", /hermes-admin logs a/);
});

test("orphans: none passes; some fail with the removing command", () => {
  assert.equal(checkOrphans("processes", []).status, "pass");
  const c = checkOrphans("containers", [{ name: "hermes-x-g1", detail: "container abc" }]);
  assert.equal(c.id, "orphan-containers");
  assert.match(c.what, /hermes-x-g1 \(container abc\)/);
  assert.match(c.fix ?? "", /orphans --remove/);
});

test("data service: down, not answering, seeding, lagging, healthy", () => {
  const base = { name: "mcp", exists: true, running: true, url: "http://127.0.0.1:9100" };
  assert.equal(checkDataService({ ...base, running: false, health: null }).status, "fail");
  assert.match(checkDataService({ ...base, running: false, health: null }).fix ?? "", /hermes-admin up/);
  assert.equal(checkDataService({ ...base, health: { ok: false, error: "ECONNREFUSED" } }).status, "fail");
  const seeding = checkDataService({
    ...base,
    health: { ok: false, httpStatus: 200, status: "degraded" },
    seeding: { state: "seeding", days_done: 3, days_total: 700, as_of: "20230110" },
  });
  assert.equal(seeding.status, "warn");
  assert.match(seeding.what, /3 of 700 days, data as of 20230110/);
  assert.equal(checkDataService({ ...base, health: { ok: false, httpStatus: 200 }, lagDays: 4 }).status, "warn");
  assert.equal(
    checkDataService({ ...base, health: { ok: true, httpStatus: 200, status: "ok" }, seeding: { state: "ready" }, lagDays: 0 })
      .status,
    "pass",
  );
});

test("port range: full fails, 90% warns", () => {
  assert.equal(checkPortRange(5, { low: 100, high: 199 }).status, "pass");
  assert.equal(checkPortRange(90, { low: 100, high: 199 }).status, "warn");
  assert.equal(checkPortRange(100, { low: 100, high: 199 }).status, "fail");
});

test("sandbox, registry, images, daemon rows pass on good facts", () => {
  assert.equal(checkSandbox("prefab limits: memory and pids by cgroups v2, processes also by RLIMIT_NPROC").status, "pass");
  assert.equal(checkRegistry({ backend: "sqlite", ok: true, detail: "ok" }).status, "pass");
  assert.match(checkRegistry({ backend: "postgres", ok: false, detail: "refused" }).fix ?? "", /FLEET_DB_URL/);
  assert.equal(checkImages([{ ref: "a", present: true }]).status, "pass");
  assert.equal(checkDaemon({ pidFile: "/p", pid: 1, url: "http://x", healthy: true }).status, "pass");
  assert.equal(checkDaemonDocker({ connected: true }).status, "pass");
});

test("summarize: ok unless something fails", () => {
  const s = summarize([checkImages([]), checkOrphans("processes", [{ name: "x" }]), checkPortRange(95, { low: 1, high: 100 })]);
  assert.deepEqual(s, { pass: 1, warn: 1, fail: 1, ok: false });
  assert.equal(summarize([checkPortRange(95, { low: 1, high: 100 })]).ok, true);
});

test("clock: the Docker Engine's time against the host's (warn past 2 s, fail past 30 s)", () => {
  const now = Date.parse("2026-12-02T01:00:00Z");
  assert.equal(checkClockSkew({ hostMs: now, engineTime: "2026-12-02T01:00:00.400Z" }).status, "pass");
  const warn = checkClockSkew({ hostMs: now, engineTime: "2026-12-02T01:00:05Z" });
  assert.equal(warn.status, "warn");
  assert.match(warn.what, /5 s ahead of this host's/);
  const fail = checkClockSkew({ hostMs: now, engineTime: "2026-12-02T00:58:00Z" });
  assert.equal(fail.status, "fail");
  assert.match(fail.what, /120 s behind/);
  assert.match(fail.fix ?? "", /chrony|timesyncd/);
  assert.equal(checkClockSkew({ hostMs: now }).status, "pass", "nothing to compare is not a failure");
});

test("cite keys: every profile pins the data service's current key, or it is named with the fix", () => {
  const published = [
    { key_id: "k-old", not_after: "2026-12-02T02:00:00Z" },
    { key_id: "k-new", not_after: null },
  ];
  assert.equal(
    checkPinnedKeys(published, [
      { name: "a", pinned: ["k-old", "k-new"] },
      { name: "b", pinned: ["k-new"] },
    ]).status,
    "pass",
  );
  const stale = checkPinnedKeys(published, [
    { name: "a", pinned: ["k-old"] },
    { name: "b", pinned: null },
    { name: "c", pinned: ["k-new"] },
  ]);
  assert.equal(stale.status, "warn");
  assert.match(stale.what, /1 of 3 profiles pin the current key k-new; not: a, b/);
  assert.match(stale.fix ?? "", /hermes-admin mcp up/);
  assert.equal(checkPinnedKeys([], [{ name: "a", pinned: null }]).status, "pass", "no key published yet");
});

test("container network: inter-container traffic off passes; on warns, naming the fix for the default bridge and for ours", () => {
  const off = checkContainerNetwork({
    network: "bridge",
    driver: "bridge",
    options: { "com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_icc": "false" },
  });
  assert.equal(off.status, "pass");
  const on = checkContainerNetwork({
    network: "bridge",
    driver: "bridge",
    options: { "com.docker.network.bridge.default_bridge": "true", "com.docker.network.bridge.enable_icc": "true" },
  });
  assert.equal(on.status, "warn");
  assert.match(on.why ?? "", /any other container of this host/);
  assert.match(on.fix ?? "", /--icc=false/);
  const own = checkContainerNetwork({ network: "twilight", driver: "bridge", options: {} });
  assert.equal(own.status, "warn", "a user-defined bridge has inter-container traffic on unless told otherwise");
  assert.match(own.fix ?? "", /enable_icc=false/);
  assert.equal(checkContainerNetwork({ network: "tenants", driver: "macvlan", options: {} }).status, "pass");
});
