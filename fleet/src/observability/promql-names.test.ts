import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { metricNamesIn } from "./promql-names.js";

describe("metricNamesIn", () => {
  it("finds selected metrics and skips functions, keywords, labels, strings, ranges and variables", () => {
    assert.deepEqual(
      metricNamesIn(
        'histogram_quantile(0.95, sum by (profile, le) (rate(hermes_query_duration_seconds_bucket{profile=~"$profile"}[5m])))',
      ),
      ["hermes_query_duration_seconds_bucket"],
    );
    assert.deepEqual(
      metricNamesIn(
        'max by (profile) (up{job="x"}) == 0 or on (profile) twilight_profile_info{status=~"error|stopped"} offset 5m > bool 1e3',
      ),
      ["up", "twilight_profile_info"],
    );
    assert.deepEqual(metricNamesIn("sum(rate(a_total[$__rate_interval])) / ignoring(x) group_left b"), ["a_total", "b"]);
    assert.deepEqual(metricNamesIn("vector(0)"), []);
  });
});
