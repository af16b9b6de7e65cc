import assert from "node:assert/strict";
import { test } from "node:test";
import { type CrashState, onCrash, worstCaseMs } from "./backoff.js";

const policy = { baseMs: 100, factor: 1.5, maxMs: 1000, stableMs: 30_000, maxTries: 8 };

test("delays grow by the factor and are capped", () => {
  let s: CrashState = { consecutive: 0 };
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    const r = onCrash(policy, s, 50);
    s = r.state;
    assert.equal(r.decision.action, "restart");
    if (r.decision.action === "restart") delays.push(r.decision.delayMs);
  }
  assert.deepEqual(delays, [100, 150, 225, 338, 506, 759, 1000, 1000]);
});

test("gives up after maxTries restarts that never became stable, never loops hot", () => {
  let s: CrashState = { consecutive: 0 };
  let last: ReturnType<typeof onCrash>["decision"] | undefined;
  for (let i = 0; i < 9; i++) {
    const r = onCrash(policy, s, 10);
    s = r.state;
    last = r.decision;
  }
  assert.deepEqual(last, { action: "give-up", attempts: 8 });
});

test("stable uptime resets the count", () => {
  let s: CrashState = { consecutive: 7 };
  const r = onCrash(policy, s, 31_000);
  s = r.state;
  assert.deepEqual(r.decision, { action: "restart", delayMs: 100, attempt: 1 });
});

test("worst case is bounded", () => {
  assert.equal(worstCaseMs(policy), 4078); // 100 + 150 + 225 + 337.5 + 506.25 + 759.375 + 1000 + 1000
});
