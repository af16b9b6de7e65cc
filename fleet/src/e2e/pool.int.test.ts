/**
 * Issue 13, the warm pool (prefab): runtimes pre-started with no profile under reserved uids hold no tenant's secret,
 * a spawn takes one and the profile it becomes is indistinguishable from a cold start of the same profile (uid, gid,
 * directory, cgroup, process limit, private /tmp, console log); a daemon killed and restarted adopts the assigned
 * profile and sweeps the unassigned runtimes it left. The isolation attacks run against pooled profiles too
 * (tenant.int.test.ts, both modes).
 */
import assert from "node:assert/strict";
import { readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readAdminToken } from "../lib/daemon-files.js";
import { isSameProcessAlive } from "../lib/proc.js";
import { eventually, type FleetHarness, fleetHarness, pooledPids } from "../testing/harness.js";

interface P {
  name: string;
  status: string;
  uid: number;
  gid: number;
  port: number;
  pid: number | null;
  profile_path: string;
}

const environ = (pid: number) =>
  Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );

/** What a process is, as the kernel sees it: the properties a pooled and a cold runtime of one profile must share. */
function identity(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const ids = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, "m").exec(status)?.[1]?.trim();
  const tmp = readFileSync(`/proc/${pid}/mountinfo`, "utf8")
    .split("\n")
    .find((l) => l.split(" ")[4] === "/tmp");
  return {
    uid: ids("Uid"),
    gid: ids("Gid"),
    groups: ids("Groups"),
    noNewPrivs: ids("NoNewPrivs"),
    cwd: readlinkSync(`/proc/${pid}/cwd`),
    cgroup: readFileSync(`/proc/${pid}/cgroup`, "utf8").trim(),
    nproc: /^Max processes\s+(\S+\s+\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, "utf8"))?.[1],
    tmp: tmp ? `${tmp.split(" - ")[1]}` : "host /tmp",
    stdout: readlinkSync(`/proc/${pid}/fd/1`),
  };
}

describe("warm pool (prefab): pooled runtimes, their assignment and a daemon restart", () => {
  let h: FleetHarness;
  const get = (n: string) => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles.find((p) => p.name === n) as P;
  const readlinkQuiet = (pid: string) => {
    try {
      return readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      return undefined;
    }
  };
  const unassigned = async () => (await pooledPids(h.ops)).filter((pid) => readlinkQuiet(String(pid))?.endsWith("/.pool"));

  before(async () => {
    h = await fleetHarness({ FLEET_POOL_SIZE: "2" });
    await h.startDaemon();
    await eventually(async () => (await h.daemonHealth()).pool?.ready === 2, 30_000, "a full pool");
  });
  after(async () => {
    await h?.cleanup(); // kills the pool's runtimes too
  });

  test("a pooled runtime holds no profile and no secret, and refuses everything but health and its own assignment", async () => {
    const pids = await unassigned();
    assert.equal(pids.length, 2);
    for (const pid of pids) {
      const env = environ(pid);
      for (const k of ["API_SERVER_KEY", "MCP_TUSHARE_TOKEN", "SILICONFLOW_API_KEY", "HERMES_PROFILE"])
        assert.equal(env[k], undefined, `${k} in a pooled runtime's environment`);
      const port = Number(env.API_SERVER_PORT);
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as Record<string, unknown>;
      assert.equal(health.status, "pooled");
      assert.equal(health.profile, undefined);
      const anon = await fetch(`http://127.0.0.1:${port}/admin/assign`, {
        method: "POST",
        body: JSON.stringify({ env: {}, cwd: "/" }),
      });
      assert.equal(anon.status, 401, "assign without the pool key");
      assert.equal((await fetch(`http://127.0.0.1:${port}/v1/models`)).status, 503);
      assert.equal((await fetch(`http://127.0.0.1:${port}/admin/activate`, { method: "POST" })).status, 503);
    }
  });

  test("a spawn takes a pooled runtime; the profile it becomes is what a cold start of that profile is", async () => {
    const before = await unassigned();
    const r = h.cli(["spawn", "pool-a", "--tier", "prefab"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout + r.stderr, /pooled=true/);
    const a = get("pool-a");
    assert.equal(a.status, "running");
    assert.ok(a.pid && before.includes(a.pid), "the profile runs in a runtime that was in the pool");
    const pooled = identity(a.pid);
    assert.equal(pooled.cwd, a.profile_path);
    assert.equal(pooled.stdout, join(h.ops, "logs", "pool-a", "console.log"));
    assert.match(readFileSync(pooled.stdout, "utf8"), /runtime opened/);
    assert.match(h.cli(["ask", "pool-a", "你好"]).stdout, /\S/);
    // the same profile started cold
    assert.equal(h.cli(["restart", "pool-a"]).code, 0);
    const b = get("pool-a");
    assert.notEqual(b.pid, a.pid);
    assert.deepEqual(identity(b.pid as number), pooled);
    assert.equal(environ(b.pid as number).HERMES_PROFILE, "pool-a");
    const health = await h.daemonHealth();
    assert.ok((health.pool?.served ?? 0) >= 1);
    await eventually(async () => (await h.daemonHealth()).pool?.ready === 2, 30_000, "the pool refilled");
    const token = readAdminToken(join(h.ops, "admin-token"));
    const metrics = await (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    assert.match(metrics, /twilight_pool_runtimes\{state="ready"\} 2/);
    assert.match(metrics, /twilight_pool_spawns\{source="pool"\} [1-9]/);
  });

  test("a killed daemon's successor adopts a pooled profile and sweeps the pool it left", async () => {
    const r = h.cli(["spawn", "pool-b", "--tier", "prefab"]);
    assert.match(r.stdout + r.stderr, /pooled=true/);
    const b = get("pool-b");
    await eventually(async () => (await unassigned()).length === 2, 30_000, "the pool refilled");
    const left = await unassigned();
    await h.killDaemon("SIGKILL");
    assert.ok(
      left.every((pid) => isSameProcessAlive(pid)),
      "a dead daemon's pool outlives it until swept",
    );
    await h.startDaemon();
    await eventually(() => left.every((pid) => !isSameProcessAlive(pid)), 20_000, "the old pool swept");
    await eventually(async () => (await h.daemonHealth()).pool?.ready === 2, 30_000, "a new pool");
    const again = get("pool-b");
    assert.equal(again.pid, b.pid, "the pooled profile was adopted, not restarted");
    assert.equal(again.status, "running");
    assert.match(h.cli(["ask", "pool-b", "你好"]).stdout, /\S/);
    assert.equal(h.cli(["rm", "pool-b", "--force"]).code, 0);
    assert.equal(isSameProcessAlive(b.pid as number), false);
  });
});
