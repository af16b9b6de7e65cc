import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FleetSignals } from "./prom-text.js";
import {
  buildView,
  formatBytes,
  formatDuration,
  type PollRecord,
  type ProfileJson,
  remember,
  summaryText,
} from "./view-model.js";

const base = (name: string, over: Partial<ProfileJson> = {}): ProfileJson => ({
  name,
  tier: "prefab",
  status: "running",
  desired_state: "running",
  port: 18700,
  restart_count: 0,
  last_error: null,
  plan: "pro",
  user_id: null,
  order_id: null,
  runtime: { running: true, uptime_s: 3725, cpu_percent: 1.5, memory_bytes: 120 * 1024 * 1024 },
  ...over,
});

function historyOf(polls: Array<Array<ProfileJson>>, stepMs = 5000): PollRecord[] {
  let h: PollRecord[] = [];
  polls.forEach((ps, i) => {
    h = remember(h, ps, i * stepMs, 600_000);
  });
  return h;
}

describe("dashboard view model", () => {
  it("flags who is down, crash-looping, failing cites or slow, worst first", () => {
    const fine = base("a-fine");
    const error = base("b-error", { status: "error", last_error: "exited with code 1" });
    const dead = base("c-dead", { runtime: { running: false } });
    const looping = (n: number) => base("d-loop", { restart_count: n });
    const cites = (n: number) => base("e-cites", { metrics: { cite_failures_total: n } });
    const slow = base("f-slow");
    const stopped = base("g-off", { status: "stopped", desired_state: "stopped" });
    const history = historyOf([
      [looping(1), cites(0)],
      [looping(2), cites(0)],
      [looping(4), cites(2)],
    ]);
    const signals = new Map<string, FleetSignals>([["f-slow", { p95Seconds: 10, requestRate: 0.5, errorRatio: 0 }]]);
    const v = buildView([stopped, slow, cites(2), looping(4), dead, error, fine], { signals, history });
    assert.deepEqual(
      v.rows.map((r) => [r.name, r.severity, r.flags.join(",")]),
      [
        ["b-error", 3, "down"],
        ["c-dead", 3, "down"],
        ["d-loop", 3, "crash-loop"],
        ["e-cites", 2, "cite-failures"],
        ["f-slow", 1, "slow"],
        ["a-fine", 0, ""],
        ["g-off", 0, "stopped"],
      ],
    );
    assert.deepEqual(v.summary, { total: 7, running: 4, down: 2, crashLooping: 1, citeFailing: 1, slow: 1 });
    assert.equal(
      summaryText(v.summary),
      "4 of 7 profiles running; 2 down, 1 crash-looping, 1 failing cites, 1 slow or erroring.",
    );
    const slowRow = v.rows.find((r) => r.name === "f-slow");
    assert.equal(slowRow?.p95, "10 s");
    assert.equal(slowRow?.requestRate, "0.50/s");
    assert.equal(slowRow?.uptime, "1h 2m");
    assert.equal(slowRow?.memory, "120 MiB");
  });

  it("the fleet's own signals: crash loop, failed health, 5xx share; a healthy fleet says so", () => {
    const signals = new Map<string, FleetSignals>([
      ["p1", { crashLooping: true }],
      ["p2", { healthy: false }],
      ["p3", { errorRatio: 0.5, requestRate: 2 }],
    ]);
    const v = buildView([base("p1"), base("p2"), base("p3")], { signals });
    assert.deepEqual(
      v.rows.map((r) => r.flags),
      [["crash-loop"], ["down"], ["errors"]],
    );
    assert.equal(summaryText(buildView([base("x")]).summary), "1 of 1 profiles running; all healthy.");
  });

  it("history forgets polls outside the window and ignores counter resets", () => {
    let h: PollRecord[] = [];
    h = remember(h, [base("p", { restart_count: 5 })], 0, 60_000);
    h = remember(h, [base("p", { restart_count: 9 })], 30_000, 60_000);
    assert.deepEqual(buildView([base("p")], { history: h }).rows[0]?.flags, ["crash-loop"]);
    h = remember(h, [base("p", { restart_count: 9 })], 100_000, 60_000);
    assert.equal(h.length, 1);
    assert.deepEqual(buildView([base("p")], { history: h }).rows[0]?.flags, []);
    const reset = historyOf([
      [base("q", { metrics: { cite_failures_total: 4 } })],
      [base("q", { metrics: { cite_failures_total: 0 } })],
    ]);
    assert.deepEqual(buildView([base("q")], { history: reset }).rows[0]?.flags, []);
  });

  it("formats durations and sizes", () => {
    assert.equal(formatDuration(null), "–");
    assert.equal(formatDuration(59), "59s");
    assert.equal(formatDuration(90_000), "1d 1h");
    assert.equal(formatBytes(2 * 1024 ** 3), "2.0 GiB");
  });

  it("builds a 200-profile view well under a frame", () => {
    const profiles = Array.from({ length: 200 }, (_, i) =>
      base(`user-${String(i).padStart(3, "0")}`, { status: i % 17 === 0 ? "error" : "running", restart_count: i % 5 }),
    );
    const history = historyOf([profiles, profiles, profiles]);
    const t0 = performance.now();
    const v = buildView(profiles, { history });
    const ms = performance.now() - t0;
    console.log(`view model for 200 profiles: ${ms.toFixed(2)} ms`);
    assert.equal(v.rows.length, 200);
    assert.equal(v.summary.down, 12);
    assert.ok(ms < 50, `${ms} ms`);
  });
});
