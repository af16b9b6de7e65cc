import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WorkloadStats } from "../runtime/types.js";
import { StatsCache } from "./stats-cache.js";

function setup() {
  let now = 1_000_000;
  const calls: string[] = [];
  const release: Array<() => void> = [];
  const cache = new StatsCache<{ name: string }>(
    (row) =>
      new Promise<WorkloadStats>((resolve) => {
        calls.push(row.name);
        release.push(() => resolve({ cpuPercent: calls.length, memoryBytes: 1024 * calls.length }));
      }),
    { maxAgeMs: 5_000, now: () => now },
  );
  return {
    cache,
    calls,
    releaseAll: async () => {
      for (const r of release.splice(0)) r();
      await new Promise((r) => setImmediate(r));
    },
    tick: (ms: number) => {
      now += ms;
    },
  };
}

describe("stats cache: list reads memory, sampling happens in the background", () => {
  it("a first read is instant and empty, and starts one sample; the next read has it with its age", async () => {
    const t = setup();
    assert.deepEqual(t.cache.peek({ name: "a" }), { stats: null, age_ms: null });
    t.cache.peek({ name: "a" });
    assert.deepEqual(t.calls, ["a"], "one sample in flight, not two");
    await t.releaseAll();
    t.tick(1_000);
    assert.deepEqual(t.cache.peek({ name: "a" }), { stats: { cpuPercent: 1, memoryBytes: 1024 }, age_ms: 1_000 });
    assert.deepEqual(t.calls, ["a"], "fresh: no new sample");
  });

  it("a stale sample is still returned at once, and refreshed behind it", async () => {
    const t = setup();
    t.cache.peek({ name: "a" });
    await t.releaseAll();
    t.tick(6_000);
    assert.equal(t.cache.peek({ name: "a" }).age_ms, 6_000);
    assert.deepEqual(t.calls, ["a", "a"]);
    await t.releaseAll();
    assert.equal(t.cache.peek({ name: "a" }).age_ms, 0);
  });

  it("sweep samples every profile a few at a time and forgets the ones gone", async () => {
    const t = setup();
    const rows = ["a", "b", "c", "d", "e"].map((name) => ({ name }));
    const done = t.cache.sweep(rows, 2);
    await new Promise((r) => setImmediate(r));
    assert.equal(t.calls.length, 2, "two at a time");
    for (let i = 0; i < 3; i++) await t.releaseAll();
    await done;
    assert.deepEqual([...t.calls].sort(), ["a", "b", "c", "d", "e"]);
    const again = t.cache.sweep([{ name: "a" }], 2);
    await new Promise((r) => setImmediate(r));
    await t.releaseAll();
    await again;
    assert.equal(t.cache.peek({ name: "b" }).age_ms, null, "b was forgotten");
  });
});
