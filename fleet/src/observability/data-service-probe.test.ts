import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDataServiceHealth, probeDataService } from "./data-service-probe.js";

describe("data-service probe", () => {
  it("reads open days behind from /health", () => {
    assert.deepEqual(
      parseDataServiceHealth({ status: "degraded", data_lag: { expected_trade_date: "20250110", open_days_behind: 2 } }),
      {
        up: true,
        lagOpenDays: 2,
        status: "degraded",
      },
    );
    assert.equal(parseDataServiceHealth({ data_lag: { open_days_behind: null } }).lagOpenDays, undefined);
    assert.equal(parseDataServiceHealth({ data_lag: { open_days_behind: "3" } }).lagOpenDays, undefined);
    assert.equal(parseDataServiceHealth(null).lagOpenDays, undefined);
  });

  it("a service that does not answer is down", async () => {
    assert.deepEqual(await probeDataService("http://127.0.0.1:9/", 500), { up: false });
  });
});
