/**
 * Issue 16, runtime upgrades: five container profiles move to version B (a second tag of the profile image), canary
 * first, each gated by /health and a real query; then an upgrade to a version that cannot start fails its canary gate,
 * the rollout stops, and every profile is back on the version it had, answering. Real daemon, real Docker.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { buildImages, imageRefs, projectVersion } from "../images/index.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";
import { ProfileClient, steadyLoad } from "../verify/profile-client.js";

interface P {
  name: string;
  image: string | null;
  status: string;
  profile_path: string;
}
interface Up {
  outcome: string;
  upgraded: string[];
  rolled_back: string[];
  canary: string[];
  failed?: { profile: string; step: string };
}

const NAMES = ["up-1", "up-2", "up-3", "up-4", "up-5"];

describe("fleet upgrade with canary and rollback", () => {
  let h: FleetHarness;
  let repo = "";
  const tagB = `day2-b-${process.pid}`;
  const tagC = `day2-c-${process.pid}`;
  const rows = () => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles;

  before(async () => {
    await buildImages({ only: ["profile"] });
    const a = imageRefs(await projectVersion()).profile;
    repo = a.slice(0, a.lastIndexOf(":"));
    const t = spawnSync("docker", ["tag", a, `${repo}:${tagB}`], { encoding: "utf8" });
    assert.equal(t.status, 0, t.stderr);
    h = await fleetHarness({ FLEET_PORT_RANGE: "19851-19880", FLEET_UID_RANGE: "61300-61399", FLEET_START_TIMEOUT_MS: "90000" });
    await h.startDaemon();
    for (const n of NAMES) {
      const r = h.cli(["spawn", n, "--tier", "container"]);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await h?.cleanup();
    if (repo) spawnSync("docker", ["rmi", `${repo}:${tagB}`, `${repo}:${tagC}`]);
  });

  test("version B healthy: all five move, canary first, each gated; 0 failed requests under load", async (t) => {
    const loads = rows()
      .filter((p) => ["up-1", "up-3", "up-5"].includes(p.name))
      .map((p) => steadyLoad(new ProfileClient(p.name, h.url, p.profile_path), 5));
    const r = await h.cliAsync(["upgrade", "--to", tagB, "--canary", "1", "--max-unavailable", "2", "--json"]);
    const l = await Promise.all(loads.map((x) => x.stop()));
    assert.equal(r.code, 0, r.stderr);
    const failed = l.reduce((a, x) => a + x.failed, 0);
    const sent = l.reduce((a, x) => a + x.sent, 0);
    t.diagnostic(
      `load through the front door: ${sent} sent, ${failed} failed, slowest ${Math.round(Math.max(...l.map((x) => x.maxMs)))} ms`,
    );
    assert.equal(failed, 0, `statuses ${l.map((x) => x.statuses).join(" ")}`);
    assert.ok(sent >= 20, `only ${sent} requests were sent`);
    const u = JSON.parse(r.stdout) as Up & { ms: number };
    t.diagnostic(`upgrade of 5 profiles: ${u.ms} ms`);
    assert.equal(u.outcome, "completed");
    assert.deepEqual(u.canary, ["up-1"]);
    assert.deepEqual([...u.upgraded].sort(), NAMES);
    assert.equal(u.upgraded[0], "up-1", "the canary goes first");
    for (const p of rows()) {
      assert.equal(p.image, `${repo}:${tagB}`);
      assert.equal(p.status, "running");
    }
  });

  test("version C fails its canary gate: the rollout stops and every profile is back on B, answering", async () => {
    const r = h.cli(["upgrade", "--to", `day2-missing-${process.pid}`, "--canary", "2", "--json"]);
    assert.equal(r.code, 1, r.stderr);
    const u = JSON.parse(r.stdout) as Up;
    assert.equal(u.outcome, "rolled-back");
    assert.equal(u.failed?.profile, "up-1");
    assert.deepEqual(u.rolled_back, ["up-1"]);
    for (const p of rows()) {
      assert.equal(p.image, `${repo}:${tagB}`, p.name);
      assert.equal(p.status, "running", p.name);
      const a = await new ProfileClient(p.name, h.url, p.profile_path).chat("what can you do?");
      assert.equal(a.status, 200, `${p.name}: ${a.error}`);
    }
    const events = h.cliJson<{ events: Array<{ action: string; result: string }> }>(["events", "up-1"]).events;
    assert.ok(events.some((e) => e.action === "upgrade-rollback" && e.result === "ok"));
  });

  test("rollout status shows the last rollout; abort stops a rollout and rolls back what it switched", async () => {
    const st = h.cliJson<{ running: boolean; last?: { outcome: string } }>(["rollout", "status"]);
    assert.equal(st.running, false);
    assert.equal(st.last?.outcome, "rolled-back");
    const a = imageRefs(await projectVersion()).profile; // back to version A, aborted after the canary
    const run = h.cliAsync(["upgrade", "--to", a.slice(a.lastIndexOf(":") + 1), "--json"]);
    await eventually(
      async () => {
        const s = await h.cliAsync(["rollout", "status", "--json"]);
        return s.code === 0 && (JSON.parse(s.stdout) as { running: boolean; current?: string | null }).current;
      },
      60_000,
      "the rollout to start",
    );
    const ab = await h.cliAsync(["rollout", "abort", "--json"]);
    assert.equal((JSON.parse(ab.stdout) as { aborting: boolean }).aborting, true);
    const r = await run;
    assert.equal(r.code, 1, r.stderr);
    const u = JSON.parse(r.stdout) as Up;
    assert.equal(u.outcome, "rolled-back");
    assert.equal(u.failed?.step, "aborted");
    for (const p of rows()) assert.equal(p.image, `${repo}:${tagB}`, p.name);
  });

  test("--pause-on-failure: a failed canary pauses (it goes back to B); after the fix, rollout resume completes", async () => {
    const r = h.cli(["upgrade", "--to", tagC, "--canary", "1", "--max-unavailable", "2", "--pause-on-failure", "--json"]);
    assert.equal(r.code, 1, r.stderr);
    const u = JSON.parse(r.stdout) as Up;
    assert.equal(u.outcome, "paused");
    assert.equal(u.failed?.profile, "up-1");
    assert.deepEqual(u.rolled_back, ["up-1"]);
    const st = h.cliJson<{ running: boolean; paused?: boolean; remaining?: string[]; failed?: { profile: string } }>([
      "rollout",
      "status",
    ]);
    assert.equal(st.running, false);
    assert.equal(st.paused, true);
    assert.equal(st.failed?.profile, "up-1");
    assert.deepEqual(st.remaining, NAMES, "the failed canary is retried first, then the rest");
    assert.equal(h.cli(["upgrade", "--to", tagB]).code, 4, "no second rollout while one is paused");
    for (const p of rows()) {
      assert.equal(p.image, `${repo}:${tagB}`, p.name);
      assert.equal(p.status, "running", p.name);
    }
    // the operator fixes the cause (the version's image now exists) and resumes
    const a = imageRefs(await projectVersion()).profile;
    const t = spawnSync("docker", ["tag", a, `${repo}:${tagC}`], { encoding: "utf8" });
    assert.equal(t.status, 0, t.stderr);
    const res = h.cli(["rollout", "resume", "--json"]);
    assert.equal(res.code, 0, res.stderr);
    const done = JSON.parse(res.stdout) as Up;
    assert.equal(done.outcome, "completed");
    assert.deepEqual([...done.upgraded].sort(), NAMES);
    for (const p of rows()) {
      assert.equal(p.image, `${repo}:${tagC}`, p.name);
      const c = await new ProfileClient(p.name, h.url, p.profile_path).chat("what can you do?");
      assert.equal(c.status, 200, `${p.name}: ${c.error}`);
    }
    const events = h.cliJson<{ events: Array<{ action: string }> }>(["events", "--limit", "200"]).events.map((e) => e.action);
    for (const a of ["upgrade-paused", "upgrade-resume"]) assert.ok(events.includes(a), `event ${a}`);
  });
});
