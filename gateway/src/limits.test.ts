import assert from "node:assert/strict";
import { test } from "node:test";
import { Limiter } from "./limits.js";
import type { PlanLimits } from "./policy.js";
import { costMillifen, DEFAULT_LIMITS, mergeLimits, priceOf } from "./policy.js";

const L: PlanLimits = { rpm: 3, tpm: 100, tpd: 1000, monthlyFen: 10, concurrency: 1, queue: 1 };
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);

function clock(t = T0) {
  const c = { t, now: () => c.t };
  return c;
}

test("rpm: the 4th request in a minute is refused until the oldest slides out", () => {
  const c = clock();
  const l = new Limiter(() => ({ dayTokens: 0, monthMillifen: 0 }), c.now);
  for (let i = 0; i < 3; i++) {
    assert.equal(l.check("a", L), null);
    l.admit("a");
    c.t += 10_000;
  }
  const r = l.check("a", L);
  assert.equal(r?.limit, "rpm");
  assert.equal(r?.retryAfter, 30); // first at T0, now T0+30s -> 30 s left
  assert.equal(l.check("b", L), null, "another profile is not affected");
  c.t = T0 + 60_001;
  assert.equal(l.check("a", L), null);
});

test("tpm: tokens settled in the last minute; retry when enough slide out", () => {
  const c = clock();
  const l = new Limiter(() => ({ dayTokens: 0, monthMillifen: 0 }), c.now);
  l.settle("a", 60, 0);
  c.t += 20_000;
  l.settle("a", 50, 0);
  const r = l.check("a", L);
  assert.equal(r?.limit, "tpm");
  assert.equal(r?.used, 110);
  assert.equal(r?.retryAfter, 40);
});

test("tpd: seeded from the meter, refused until the next UTC midnight", () => {
  const c = clock();
  const l = new Limiter(() => ({ dayTokens: 999, monthMillifen: 0 }), c.now);
  assert.equal(l.check("a", L), null);
  l.settle("a", 1, 0);
  c.t += 61_000;
  const r = l.check("a", L);
  assert.equal(r?.limit, "tpd");
  assert.equal(r?.retryAfter, 12 * 3600 - 61);
});

test("spend: the monthly cap in fen, refused until the 1st of next month (UTC)", () => {
  const c = clock();
  const l = new Limiter(() => ({ dayTokens: 0, monthMillifen: 9_999 }), c.now);
  assert.equal(l.check("a", L), null);
  l.settle("a", 0, 1);
  const r = l.check("a", L);
  assert.equal(r?.limit, "spend");
  assert.equal(r?.retryAfter, (Date.UTC(2027, 0, 1) - T0) / 1000);
});

test("a new day re-seeds the day's tokens", () => {
  const c = clock();
  let seeds = 0;
  const l = new Limiter(() => ({ dayTokens: seeds++ === 0 ? 5000 : 0, monthMillifen: 0 }), c.now);
  assert.equal(l.check("a", L)?.limit, "tpd");
  c.t = Date.UTC(2026, 11, 2, 0, 0, 1);
  assert.equal(l.check("a", L), null);
});

test("prices: cost in millifen rounds up; an unknown model pays the dearest price", () => {
  const prices = new Map([
    ["cheap", { inFenPerM: 100, outFenPerM: 200 }],
    ["dear", { inFenPerM: 400, outFenPerM: 800 }],
  ]);
  assert.equal(costMillifen(priceOf(prices, "cheap"), 1000, 1000), 300);
  assert.equal(costMillifen(priceOf(prices, "cheap"), 1, 0), 1);
  assert.deepEqual(priceOf(prices, "unknown"), { inFenPerM: 400, outFenPerM: 800 });
  assert.equal(costMillifen(priceOf(prices, "x"), 0, 0), 0);
});

test("plan limits: defaults for every plan, overrides merged", () => {
  const m = mergeLimits({ basic: { rpm: 5 } });
  assert.equal(m.get("basic")?.rpm, 5);
  assert.equal(m.get("basic")?.tpm, DEFAULT_LIMITS.get("basic")?.tpm);
  assert.equal(m.get("pro")?.rpm, DEFAULT_LIMITS.get("pro")?.rpm);
  assert.equal(m.get("constructor" as never), undefined);
});
