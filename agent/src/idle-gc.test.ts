import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { idleCollector } from "./idle-gc.js";

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("idle collector", () => {
  it("collects once after the quiet time that follows requests, never while one is in flight", async () => {
    const c = idleCollector(40);
    c.busy();
    c.busy();
    c.done(1); // one still in flight: nothing scheduled
    await wait(80);
    assert.equal(c.runs, 0);
    c.done(0);
    await wait(20);
    c.busy(); // a request within the quiet time cancels it
    await wait(60);
    assert.equal(c.runs, 0);
    c.done(0);
    await wait(80);
    assert.equal(c.runs, 1);
    await wait(80);
    assert.equal(c.runs, 1, "no requests since: nothing to give back, no second collection");
    c.stop();
  });

  it("gives memory back: the heap in use after the collection is below the garbage left by a burst", async () => {
    const c = idleCollector(20);
    c.busy();
    let keep: unknown[] = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` }));
    const before = process.memoryUsage().heapUsed;
    keep = [];
    c.done(0);
    await wait(60);
    assert.equal(c.runs, 1);
    assert.ok(process.memoryUsage().heapUsed < before - 5 * 1024 * 1024, "the burst's garbage was collected");
    assert.equal(keep.length, 0);
    c.stop();
  });
});
