import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { dueToSleep, type IdleCandidate, idleAfterFor } from "./idle-policy.js";

const T0 = Date.parse("2026-12-02T08:00:00Z");
const MIN = 60_000;
const row = (name: string, plan: string | null, o: Partial<IdleCandidate> = {}): IdleCandidate => ({
  name,
  plan,
  status: "running",
  desired_state: "running",
  last_started_at: new Date(T0).toISOString(),
  ...o,
});

describe("idle policy", () => {
  it("gives each plan its idle time; dedicated_pro and hand-spawned profiles never sleep; the override replaces all", () => {
    assert.equal(idleAfterFor("basic"), 30 * MIN);
    assert.equal(idleAfterFor("pro"), 120 * MIN);
    assert.equal(idleAfterFor("dedicated_pro"), null);
    assert.equal(idleAfterFor(null), null);
    assert.equal(idleAfterFor("constructor"), null, "an unknown plan is not a property lookup");
    assert.equal(idleAfterFor("dedicated_pro", 1500), 1500);
    assert.equal(idleAfterFor("basic", 0), null, "0 turns hibernation off");
  });

  it("picks running profiles idle past their plan's time, measured from the later of last request, start and daemon start", () => {
    const rows = [
      row("idle-basic", "basic"),
      row("recent-request", "basic"),
      row("pro-not-yet", "pro"),
      row("dedicated", "dedicated_pro"),
      row("stopped", "basic", { status: "stopped", desired_state: "stopped" }),
      row("sleeping", "basic", { status: "sleeping" }),
      row("busy", "basic"),
      row("woken-late", "basic", { last_started_at: new Date(T0 + 20 * MIN).toISOString() }),
    ];
    const due = dueToSleep(rows, {
      now: T0 + 31 * MIN,
      since: T0 - 60 * MIN,
      lastRequestAt: (n) => (n === "recent-request" ? T0 + 30 * MIN : undefined),
      inFlight: (n) => (n === "busy" ? 1 : 0),
    });
    assert.deepEqual(
      due.map((d) => d.name),
      ["idle-basic"],
    );
    assert.equal(due[0]?.idleMs, 31 * MIN);
  });

  it("never counts time before the daemon started as idle (no request history then)", () => {
    const due = dueToSleep([row("a", "basic", { last_started_at: null })], {
      now: T0 + 10 * MIN,
      since: T0,
      lastRequestAt: () => undefined,
      inFlight: () => 0,
    });
    assert.deepEqual(due, []);
  });
});
