/**
 * Hibernation end to end (issue 13): idle profiles sleep (their workload stops: memory back to the host), the front door
 * wakes them on the next request and holds it until they answer, the conversation goes on; 100 concurrent requests to
 * 20 sleeping profiles all succeed; a profile that cannot wake answers a clear 503 with its reason, fast, and an event.
 * Real daemon (idle time 1.5 s, sweep every 200 ms), real prefab processes and Docker containers.
 */
import assert from "node:assert/strict";
import { spawn as nodeSpawn, spawnSync } from "node:child_process";
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { buildImages } from "../images/index.js";
import { isSameProcessAlive } from "../lib/proc.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";
import { ProfileClient } from "../verify/profile-client.js";

interface P {
  name: string;
  tier: string;
  status: string;
  pid: number | null;
  container_id: string | null;
  profile_path: string;
  last_error: string | null;
}
interface Ev {
  action: string;
  result: string;
  actor: string;
  detail: Record<string, unknown>;
}

describe("hibernation: idle profiles sleep and the front door wakes them", () => {
  let h: FleetHarness;
  const names: string[] = [];
  const rows = () => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles;
  const row = (n: string) => rows().find((p) => p.name === n) as P;
  const events = (n: string) => h.cliJson<{ events: Ev[] }>(["events", n]).events;
  const spawn = (n: string, tier = "prefab") => {
    const r = h.cli(["spawn", n, "--tier", tier]);
    assert.equal(r.code, 0, r.stderr);
    names.push(n);
    return row(n);
  };
  const asleep = (n: string, ms = 20_000) => eventually(() => row(n).status === "sleeping", ms, `${n} asleep`);

  before(async () => {
    await buildImages({ only: ["profile"] });
    h = await fleetHarness({
      FLEET_PORT_RANGE: "20201-20260",
      FLEET_UID_RANGE: "61400-61499",
      FLEET_IDLE_AFTER_MS: "1500",
      FLEET_IDLE_SWEEP_MS: "200",
      FLEET_START_TIMEOUT_MS: "60000",
    });
    await h.startDaemon();
  });
  after(async () => {
    // cleanup removes every profile through the daemon, all at once (one `rm` after another took ~60 s here)
    await h?.cleanup();
  });

  test("prefab: idle -> sleeping (process gone), the next request wakes it and the conversation goes on", async () => {
    const p = spawn("hib-pre");
    const c = new ProfileClient(p.name, h.url, p.profile_path);
    const t1 = await c.chat("what can you do?");
    assert.equal(t1.status, 200, t1.error);
    const pid = row(p.name).pid as number;
    await asleep(p.name);
    const slept = row(p.name);
    assert.equal(slept.pid, null);
    assert.equal(isSameProcessAlive(pid), false, "the process is gone: its memory went back to the host");
    const sleep = events(p.name).find((e) => e.action === "sleep");
    assert.equal(sleep?.result, "ok");
    assert.equal(sleep?.detail.reason, "idle");
    const health = h.cli(["health", p.name]);
    assert.equal(health.code, 0, "a sleeping profile is not a failed health check");
    assert.match(health.stdout, /sleeping\s+asleep/);

    const t2 = await c.chat("what can you do?", t1.sessionId);
    assert.equal(t2.status, 200, t2.error);
    assert.equal(t2.sessionId, t1.sessionId);
    const s = await c.session(t1.sessionId);
    assert.equal(s?.messages.filter((m) => m.role === "user").length, 2, "both turns are in the one conversation");
    assert.equal(row(p.name).status, "running");
    const wake = events(p.name).find((e) => e.action === "wake");
    assert.equal(wake?.result, "ok");
    assert.equal(wake?.detail.reason, "request");
    assert.equal(typeof wake?.detail.wake_ms, "number");
  });

  test("container: hermes-admin sleep stops the container, a request wakes it with its sessions", async () => {
    const p = spawn("hib-ctr", "container");
    const c = new ProfileClient(p.name, h.url, p.profile_path);
    const t1 = await c.chat("what can you do?");
    assert.equal(t1.status, 200, t1.error);
    const cid = row(p.name).container_id as string;
    const r = h.cliJson<P>(["sleep", p.name]);
    assert.equal(r.status, "sleeping");
    const inspect = spawnSync("docker", ["inspect", "-f", "{{.State.Running}}", cid], { encoding: "utf8" });
    assert.notEqual(inspect.stdout.trim(), "true", "the container no longer runs");
    const t2 = await c.chat("what can you do?", t1.sessionId);
    assert.equal(t2.status, 200, t2.error);
    const s = await c.session(t1.sessionId);
    assert.equal(s?.messages.filter((m) => m.role === "user").length, 2);
    assert.equal(row(p.name).tier, "container");
    assert.ok(events(p.name).some((e) => e.action === "sleep" && e.detail.reason === "operator"));
  });

  test("100 concurrent requests to 20 sleeping profiles: 0 failed, wakes shared", async () => {
    const many = Array.from({ length: 20 }, (_, i) => `hib-m${String(i).padStart(2, "0")}`);
    for (let i = 0; i < many.length; i += 4) {
      const batch = many.slice(i, i + 4);
      const rs = await Promise.all(batch.map((n) => h.cliAsync(["spawn", n, "--tier", "prefab"])));
      for (const [j, r] of rs.entries()) assert.equal(r.code, 0, `${batch[j]}: ${r.stderr}`);
      names.push(...batch);
    }
    // one `list` per poll (a CLI call per profile per poll was most of this test's time)
    const asleepAll = await eventually(
      () => {
        const all = rows().filter((r) => many.includes(r.name));
        return all.length === many.length && all.every((r) => r.status === "sleeping") ? all : undefined;
      },
      60_000,
      "all 20 asleep",
    );
    const pathOf = new Map(asleepAll.map((r) => [r.name, r.profile_path]));
    const clients = many.map((n) => new ProfileClient(n, h.url, pathOf.get(n) as string));
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => (clients[i % 20] as ProfileClient).ping(60_000)));
    const wall = performance.now() - t0;
    const failed = results.filter((r) => !r.ok);
    assert.equal(failed.length, 0, `statuses ${failed.map((f) => f.status).join(",")}`);
    const ms = results.map((r) => r.ms).sort((a, b) => a - b);
    console.log(
      `# 100 requests to 20 sleeping prefab profiles: 0 failed, wall ${Math.round(wall)} ms, ` +
        `p50 ${Math.round(ms[49] as number)} ms, max ${Math.round(ms[99] as number)} ms`,
    );
    // the five requests of a profile share one wake (a profile can sleep again, idle, before a late request of the
    // burst arrives on this 2-core host: that one wakes it again, which is right)
    let wakes = 0;
    const all = h.cliJson<{ events: Array<Ev & { profile: string }> }>(["events", "--limit", "1000"]).events;
    for (const n of many) {
      const w = all.filter((e) => e.profile === n && e.action === "wake");
      assert.ok(w.length >= 1 && w.every((e) => e.result === "ok"), `${n}: ${JSON.stringify(w)}`);
      wakes += w.length;
    }
    assert.ok(wakes <= 30, `${wakes} wakes for 100 requests to 20 profiles: requests did not share wakes`);
  });

  test("attack: another uid binds a sleeping profile's port; the wake moves it to a free port, the squatter gets nothing", async () => {
    const p = spawn("hib-squat");
    const c = new ProfileClient(p.name, h.url, p.profile_path);
    const before = (await c.chat("what can you do?")).sessionId;
    await asleep(p.name);
    const port = (
      h
        .cliJson<{ profiles: Array<P & { port: number }> }>(["list", "--no-stats"])
        .profiles.find((x) => x.name === p.name) as P & { port: number }
    ).port;
    // a hostile tenant (any other uid) listens on the port while its owner sleeps, and records what it is sent
    const squat = nodeSpawn(
      process.execPath,
      [
        "-e",
        `const s=require("net").createServer(c=>{c.on("data",d=>process.stdout.write(d));c.end()});s.listen(${port},"127.0.0.1",()=>console.log("listening"))`,
      ],
      { uid: 65534, gid: 65534, stdio: ["ignore", "pipe", "inherit"] },
    );
    let heard = "";
    squat.stdout?.on("data", (d: Buffer) => {
      heard += d.toString();
    });
    try {
      await eventually(() => heard.includes("listening"), 10_000, "squatter listening");
      const t = await c.chat("what can you do?", before);
      assert.equal(t.status, 200, t.error);
      const s = await c.session(before);
      assert.equal(s?.messages.filter((m) => m.role === "user").length, 2, "the conversation went on");
      const moved = h
        .cliJson<{ profiles: Array<P & { port: number }> }>(["list", "--no-stats"])
        .profiles.find((x) => x.name === p.name);
      assert.notEqual(moved?.port, port, "the profile runs on another port now");
      assert.equal(heard.replace("listening\n", ""), "", "the squatter received nothing (no request, no key)");
      const ev = events(p.name).find((e) => e.action === "port-moved");
      assert.equal(ev?.detail.from, port);
      assert.match(String(ev?.detail.reason), /held by uid 65534/);
    } finally {
      squat.kill("SIGKILL");
    }
  });

  test("a profile that runs its own WeChat channel (WEIXIN_TOKEN) stays awake while idle", async () => {
    const r = h.cli(["spawn", "hib-chan", "--tier", "prefab", "--set", "WEIXIN_TOKEN=wx-token-0123456789"]);
    assert.equal(r.code, 0, r.stderr);
    names.push("hib-chan");
    const other = spawn("hib-idle");
    await asleep(other.name);
    await new Promise((res) => setTimeout(res, 1000));
    assert.equal(row("hib-chan").status, "running", "idle for longer than the idle time, and still awake");
  });

  test("a profile that cannot wake answers 503 with the reason at once, records it, and wakes once fixed", async () => {
    const p = spawn("hib-bad");
    const c = new ProfileClient(p.name, h.url, p.profile_path);
    await asleep(p.name);
    // the tenant overwrites its own state.db with garbage: the runtime cannot open it and exits at start
    const db = join(p.profile_path, "data", "state.db");
    const aside = ["", "-wal", "-shm"].filter((x) => existsSync(db + x));
    for (const x of aside) renameSync(db + x, `${db + x}.real`);
    writeFileSync(db, "this is not a database ".repeat(400));
    try {
      const t0 = performance.now();
      const res = await fetch(`${h.url}/p/${p.name}/v1/models`, { headers: { authorization: `Bearer ${c.apiKey}` } });
      const ms = performance.now() - t0;
      const body = (await res.json()) as { error: { code: string; message: string; hint?: string } };
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.equal(body.error.code, "UNAVAILABLE");
      assert.match(body.error.message, /could not wake/);
      assert.match(body.error.hint ?? "", /hermes-admin wake hib-bad/);
      assert.ok(ms < 15_000, `answered in ${Math.round(ms)} ms, not a hang`);
      const t1 = performance.now();
      const again = await c.ping(5_000);
      assert.equal(again.status, 503, "within the retry window the answer comes without another attempt");
      assert.ok(performance.now() - t1 < 1000);
      const wakes = events(p.name).filter((e) => e.action === "wake");
      assert.equal(wakes.length, 1);
      assert.equal(wakes[0]?.result, "error");
      const r = row(p.name);
      assert.equal(r.status, "sleeping");
      assert.match(r.last_error ?? "", /wake failed/);
    } finally {
      rmSync(db, { force: true });
      for (const x of aside) renameSync(`${db + x}.real`, db + x);
    }
    const woke = h.cliJson<P>(["wake", p.name]);
    assert.equal(woke.status, "running");
    assert.equal((await c.ping()).ok, true);
  });
});
