import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../clock.js";
import { RateLimiter } from "./ratelimit.js";

describe("RateLimiter", () => {
  it("lets perMinute calls through, then waits for the window to slide", async () => {
    const clock = new ManualClock(1_000_000);
    const slept: number[] = [];
    const lim = new RateLimiter({
      perMinute: 3,
      clock,
      sleep: async (ms) => {
        slept.push(ms);
        clock.advance(ms);
      },
    });
    for (let i = 0; i < 3; i++) await lim.acquire("daily");
    assert.deepEqual(slept, []);
    clock.advance(10_000);
    await lim.acquire("daily");
    assert.deepEqual(slept, [50_000]);
    await lim.acquire("trade_cal");
    assert.equal(slept.length, 1, "limits are per API");
  });
  it("reports the wait without recording a call", () => {
    const clock = new ManualClock(0);
    const lim = new RateLimiter({ perMinute: 1, clock, sleep: async () => undefined });
    assert.equal(lim.waitMs("daily"), 0);
    assert.equal(lim.waitMs("daily"), 0);
  });
});
