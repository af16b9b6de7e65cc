import assert from "node:assert/strict";
import { test } from "node:test";
import { isDue, policyFor, toPrune } from "./backup-schedule.js";

test("a backup is due when there is none or the newest is older than the plan's interval", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  assert.equal(isDue("basic", undefined, now), true);
  assert.equal(isDue("basic", "2026-12-01T00:00:00Z", now), false);
  assert.equal(isDue("basic", "2026-11-30T12:00:00Z", now), true);
  assert.equal(isDue("dedicated_pro", "2026-12-01T06:00:00Z", now), true);
  assert.equal(isDue(null, "2026-12-01T00:00:00Z", now), false, "no plan: like basic");
});

test("retention keeps the plan's newest N", () => {
  const list = Array.from({ length: 10 }, (_, i) => ({ file: `f${i}` }));
  assert.deepEqual(toPrune("basic", list), ["f7", "f8", "f9"]);
  assert.deepEqual(toPrune("dedicated_pro", list), []);
  assert.equal(policyFor("unknown").keep, 7);
});
