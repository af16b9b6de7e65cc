import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normalizeStockCode } from "@twilight/core";
import { loadFixture } from "../fixture.js";
import { answerQuery, parseFields } from "./answer.js";
import { TushareError } from "./errors.js";
import { rowsOf } from "./types.js";

const tables = loadFixture();

describe("answerQuery over the embedded fixture", () => {
  it("filters daily by code and dates, newest first, with the requested fields", () => {
    const t = answerQuery(tables, "daily", { ts_code: "600519.SH", start_date: "20241230", end_date: "20241231" }, [
      "trade_date",
      "close",
    ]);
    assert.deepEqual(t, {
      fields: ["trade_date", "close"],
      items: [
        ["20241231", 1524],
        ["20241230", 1525],
      ],
    });
  });
  it("answers trade_cal with is_open and the exchange", () => {
    const rows = rowsOf(
      answerQuery(tables, "trade_cal", { exchange: "SSE", start_date: "20241228", end_date: "20250102", is_open: "1" }),
    );
    assert.deepEqual(
      rows.map((r) => r.cal_date),
      ["20250102", "20241231", "20241230"],
    );
    assert.equal(rowsOf(answerQuery(tables, "trade_cal", { exchange: "SZSE" })).length, 0);
  });
  it("needs ts_code for fina_indicator and filters by period", () => {
    assert.throws(() => answerQuery(tables, "fina_indicator", {}), TushareError);
    const rows = rowsOf(answerQuery(tables, "fina_indicator", { ts_code: "600519.SH", period: "20241231" }));
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.dt_eps, 68.64);
    assert.equal(rows[0]?.ann_date, "20250403");
  });
  it("refuses an unknown API and reads fields in both forms", () => {
    assert.throws(() => answerQuery(tables, "no_such_api", {}), /no such api/);
    assert.deepEqual(parseFields("a, b"), ["a", "b"]);
    assert.deepEqual(parseFields(["a"]), ["a"]);
    assert.equal(parseFields(""), undefined);
  });
});

describe("stock code rules (as the tools use them)", () => {
  it("accepts the three spellings and applies the SH/SZ/BJ rules", () => {
    for (const s of ["600519", "600519.SH", "sh600519", "SH600519", " 600519.sh "])
      assert.equal(normalizeStockCode(s), "600519.SH");
    assert.equal(normalizeStockCode("000858"), "000858.SZ");
    assert.equal(normalizeStockCode("300750"), "300750.SZ");
    assert.equal(normalizeStockCode("920001"), "920001.BJ");
    assert.equal(normalizeStockCode("830799"), "830799.BJ");
    assert.equal(normalizeStockCode("688981"), "688981.SH");
    for (const bad of ["60051", "abc", "600519.HK", "100000"]) assert.throws(() => normalizeStockCode(bad), bad);
  });
});
