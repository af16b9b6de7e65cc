import assert from "node:assert/strict";
import { test } from "node:test";
import { assertPlan, isPlan, PLAN_TIER, PLANS } from "./plans.js";

test("plans are a closed set: prototype names are unknown plans, and the error names the valid ones", () => {
  for (const p of PLANS) assert.equal(assertPlan(p), p);
  for (const bad of ["constructor", "__proto__", "toString", "hasOwnProperty", "", "BASIC", "default"]) {
    assert.equal(isPlan(bad), false, bad);
    assert.throws(() => assertPlan(bad), /valid plans are basic, pro, dedicated_pro/);
  }
  assert.equal(PLAN_TIER.get("dedicated_pro"), "container");
  assert.equal(PLAN_TIER.get("constructor" as never), undefined);
});
