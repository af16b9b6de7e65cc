import assert from "node:assert/strict";
import { test } from "node:test";
import { citeBinding, isMarketTool, normalizeStockCode, TOOLS } from "./market.js";

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

test("citeBinding normalises the call the way the data service cites it", () => {
  assert.deepEqual(citeBinding(TOOLS.latestPrice, { ts_code: "sh600519" }), {
    api: "daily",
    params: { ts_code: "600519.SH", as_of: null },
  });
  assert.deepEqual(citeBinding(TOOLS.dailyPrices, { ts_code: "000858" }).params, {
    ts_code: "000858.SZ",
    start_date: null,
    end_date: null,
    limit: 30,
  });
  assert.deepEqual(citeBinding(TOOLS.fundamentals, { ts_code: "600519", period: "20241231" }), {
    api: "fina_indicator",
    params: { ts_code: "600519.SH", period: "20241231" },
  });
  assert.deepEqual(citeBinding(TOOLS.tradeCalendar, { start_date: "20250101", end_date: "20250110" }).params, {
    exchange: "SSE",
    start_date: "20250101",
    end_date: "20250110",
    is_open: null,
  });
  assert.deepEqual(citeBinding(TOOLS.searchStocks, { query: " 茅台 " }), { api: "stock_basic", params: { query: "茅台" } });
  assert.throws(() => citeBinding(TOOLS.latestPrice, { ts_code: "nope" }));
  assert.throws(() => citeBinding(TOOLS.latestPrice, {}));
  assert.equal(isMarketTool("get_latest_price"), true);
  assert.equal(isMarketTool("constructor"), false);
});
