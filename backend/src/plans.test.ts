import assert from "node:assert/strict";
import { test } from "node:test";
import { isDomainError } from "@twilight/core";
import { PLAN_CODES, PLANS, planOf } from "./plans.js";
import { backoffMs } from "./provisioning/worker.js";

test("plans: a closed set mapped to fleet plans and tiers", () => {
  assert.deepEqual([...PLAN_CODES], ["basic", "pro", "dedicated_pro"]);
  assert.equal(PLANS.basic.tier, "prefab");
  assert.equal(PLANS.pro.tier, "prefab");
  assert.equal(PLANS.dedicated_pro.tier, "container");
  for (const c of PLAN_CODES) {
    assert.equal(PLANS[c].fleet_plan, c);
    assert.ok(Number.isInteger(PLANS[c].price_fen) && PLANS[c].price_fen > 0);
  }
  assert.throws(
    () => planOf("gold"),
    (e: unknown) => isDomainError(e) && e.code === "INPUT_INVALID",
  );
  assert.throws(() => planOf("__proto__"));
});

test("outbox backoff doubles from the base, capped, with +-20% jitter", () => {
  assert.equal(
    backoffMs(1, 1000, 60_000, () => 0.5),
    1000,
  );
  assert.equal(
    backoffMs(2, 1000, 60_000, () => 0.5),
    2000,
  );
  assert.equal(
    backoffMs(5, 1000, 60_000, () => 0.5),
    16_000,
  );
  assert.equal(
    backoffMs(20, 1000, 60_000, () => 0.5),
    60_000,
  );
  assert.equal(
    backoffMs(1, 1000, 60_000, () => 0),
    800,
  );
  assert.equal(
    backoffMs(1, 1000, 60_000, () => 1),
    1200,
  );
});
