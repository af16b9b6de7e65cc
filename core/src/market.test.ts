import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizeStockCode } from "./market.js";

test("normalises the accepted code forms", () => {
  for (const [i, o] of [
    ["600519", "600519.SH"],
    ["600519.SH", "600519.SH"],
    ["600519.sh", "600519.SH"],
    ["sh600519", "600519.SH"],
    ["SH600519", "600519.SH"],
    ["000858", "000858.SZ"],
    ["sz000858", "000858.SZ"],
    ["300750", "300750.SZ"],
    ["688981", "688981.SH"],
    ["830799", "830799.BJ"],
    ["430047", "430047.BJ"],
    ["920002", "920002.BJ"],
    [" 600519 ", "600519.SH"],
  ]) {
    assert.equal(normalizeStockCode(i as string), o);
  }
});

test("rejects what is not a code", () => {
  for (const bad of ["60051", "6005199", "abc", "600519.HK", "", "100000", "x600519"]) {
    assert.throws(
      () => normalizeStockCode(bad),
      (e: Error & { code?: string }) => e.code === "INPUT_INVALID",
      bad,
    );
  }
});
