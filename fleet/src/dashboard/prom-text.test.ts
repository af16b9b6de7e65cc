import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fleetMetrics, recordCrash, recordFrontDoor, recordHealthCheck } from "../metrics.js";
import { bucketQuantile, fleetSignals, parsePromText } from "./prom-text.js";

describe("Prometheus text for the dashboard", () => {
  it("parses samples with labels, escapes, +Inf and timestamps; skips comments and junk", () => {
    const s = parsePromText(
      [
        "# HELP x help",
        "# TYPE x counter",
        'x_total{a="1",b="q\\"uote\\\\"} 3',
        'h_bucket{le="+Inf"} 7 1700000000000',
        "plain 2.5e3",
        "broken{a=1} 2",
        "",
      ].join("\n"),
    );
    assert.deepEqual(s, [
      { name: "x_total", labels: { a: "1", b: 'q"uote\\' }, value: 3 },
      { name: "h_bucket", labels: { le: "+Inf" }, value: 7 },
      { name: "plain", labels: {}, value: 2500 },
    ]);
  });

  it("quantile from bucket deltas", () => {
    const d = new Map([
      [0.1, 90],
      [1, 96],
      [Number.POSITIVE_INFINITY, 100],
    ]);
    assert.equal(bucketQuantile(0.5, d), 0.1);
    assert.equal(bucketQuantile(0.95, d), 1);
    assert.equal(bucketQuantile(0.99, d), Number.POSITIVE_INFINITY);
    assert.equal(bucketQuantile(0.95, new Map()), undefined);
  });

  it("derives per-profile signals from two scrapes of the real fleet registry", async () => {
    const m = fleetMetrics({ defaultMetrics: false });
    recordFrontDoor(m, "p1", 200, 0.02, 0);
    recordHealthCheck(m, "p2", "prefab", false, 1);
    const first = parsePromText(await m.registry.metrics());
    for (let i = 0; i < 18; i++) recordFrontDoor(m, "p1", 200, 0.02, 0);
    recordFrontDoor(m, "p1", 502, 4, 0);
    recordFrontDoor(m, "p1", 200, 7, 0);
    for (let i = 0; i < 3; i++) recordCrash(m, "p3", { action: "restart", delayMs: 1000, attempt: i + 1 });
    const second = parsePromText(await m.registry.metrics());
    const sig = fleetSignals(second, first, 10);
    assert.equal(sig.get("p1")?.requestRate, 2);
    assert.equal(sig.get("p1")?.errorRatio, 0.05);
    assert.equal(sig.get("p1")?.p95Seconds, 5);
    assert.equal(sig.get("p2")?.healthy, false);
    assert.equal(sig.get("p3")?.crashLooping, true);
    assert.equal(fleetSignals(second).get("p1")?.requestRate, undefined, "no rate without a previous scrape");
  });
});
