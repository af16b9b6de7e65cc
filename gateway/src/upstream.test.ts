import assert from "node:assert/strict";
import { test } from "node:test";
import { UpstreamSimulator } from "./simulator.js";
import { backoffMs, parseRetryAfter, UpstreamClient } from "./upstream.js";

test("Retry-After: seconds or an HTTP date", () => {
  assert.equal(parseRetryAfter("2"), 2000);
  assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.equal(parseRetryAfter("soon"), undefined);
  assert.equal(parseRetryAfter(undefined), undefined);
});

test("backoff: full jitter under min(max, base * 2^n)", () => {
  const p = { retries: 3, baseMs: 100, maxMs: 1000, maxRetryAfterMs: 0 };
  assert.equal(
    backoffMs(p, 0, () => 0.999),
    99,
  );
  assert.equal(
    backoffMs(p, 5, () => 0.5),
    500,
  );
  assert.equal(
    backoffMs(p, 2, () => 0),
    0,
  );
});

test("retries 5xx and 429 (honouring Retry-After), then succeeds; bounded, then a clear error", async () => {
  const sim = new UpstreamSimulator({ apiKey: "up-key" });
  const baseUrl = await sim.start();
  const waits: number[] = [];
  const paused: number[] = [];
  const c = new UpstreamClient({
    secret: () => ({ baseUrl, apiKey: "up-key" }),
    retry: { retries: 2, baseMs: 10, maxMs: 50, maxRetryAfterMs: 5000 },
    sleep: async (ms) => void waits.push(ms),
    random: () => 0.5,
    onRateLimited: (u) => paused.push(u),
  });
  try {
    const body = Buffer.from(JSON.stringify({ model: "m", messages: [{ role: "user", content: "hi there" }] }));
    sim.fail(503, 1);
    sim.fail(429, 1, 3);
    const r = await c.send("POST", "chat/completions", body);
    assert.equal(r.status, 200);
    assert.equal(r.attempts, 3);
    r.body.resume();
    assert.deepEqual(waits, [5, 3000]);
    assert.equal(paused.length, 1);
    sim.fail(500, 3);
    await assert.rejects(c.send("POST", "chat/completions", body), (e: Error & { code?: string }) => {
      assert.equal(e.code, "UPSTREAM");
      assert.match(e.message, /failed \(500\)/);
      return true;
    });
    sim.fail(429, 1, 60);
    await assert.rejects(
      c.send("POST", "chat/completions", body),
      (e: Error & { code?: string; details?: { retry_after_seconds?: number } }) => {
        assert.equal(e.code, "UNAVAILABLE", "a Retry-After beyond the bound is not waited for");
        assert.equal(e.details?.retry_after_seconds, 60);
        return true;
      },
    );
  } finally {
    c.close();
    await sim.close();
  }
});
