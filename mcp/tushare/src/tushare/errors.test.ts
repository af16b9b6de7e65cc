import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { classifyTushareMsg, TUSHARE_MESSAGES, TushareError } from "./errors.js";

describe("classifyTushareMsg", () => {
  it("classifies Tushare's own messages", () => {
    assert.equal(classifyTushareMsg(TUSHARE_MESSAGES.badToken), "bad_token");
    assert.equal(classifyTushareMsg(TUSHARE_MESSAGES.rateMinute(500)), "rate_minute");
    assert.equal(classifyTushareMsg("抱歉，您每小时最多访问该接口1次"), "rate_minute");
    assert.equal(classifyTushareMsg(TUSHARE_MESSAGES.rateDay(20000)), "rate_day");
    assert.equal(classifyTushareMsg(TUSHARE_MESSAGES.permission), "permission");
  });
  it("tells a malformed request from an unknown failure", () => {
    assert.equal(classifyTushareMsg("参数 ts_code 必填"), "bad_request");
    assert.equal(classifyTushareMsg("系统繁忙"), "upstream");
    assert.equal(classifyTushareMsg(""), "upstream");
  });
  it("marks only the per-minute limit as retryable", () => {
    assert.equal(new TushareError("rate_minute", "daily", "x").retryable, true);
    for (const k of ["rate_day", "bad_token", "permission", "upstream"] as const)
      assert.equal(new TushareError(k, "daily", "x").retryable, false, k);
  });
});
