import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRequest, periodOf } from "./intent.js";

describe("offline planner: request parsing", () => {
  const cases: [string, Partial<ReturnType<typeof parseRequest>>][] = [
    ["What is the price of 600519?", { lang: "en", price: true, fundamentals: false, code: "600519.SH" }],
    ["sh600519 close on 2024-12-31", { price: true, code: "600519.SH", asOf: "20241231" }],
    ["000858.sz fundamentals 20240930", { fundamentals: true, code: "000858.SZ", period: "20240930" }],
    ["Kweichow Moutai's ROE for 2024", { fundamentals: true, code: "600519.SH", period: "20241231" }],
    ["and its fundamentals for 2024?", { fundamentals: true, price: false, period: "20241231" }],
    ["Wuliangye Q3 2024 earnings", { fundamentals: true, code: "000858.SZ", period: "20240930" }],
    ["贵州茅台的股价是多少？", { lang: "zh", price: true, code: "600519.SH" }],
    ["它2024年的基本面呢", { lang: "zh", fundamentals: true, period: "20241231" }],
    ["五粮液2024年半年报的财务指标", { fundamentals: true, code: "000858.SZ", period: "20240630" }],
    ["2024年12月31日茅台收盘价", { price: true, code: "600519.SH", asOf: "20241231" }],
    ["price of Foo Industries on 20250102", { price: true, query: "Foo Industries", asOf: "20250102" }],
    ["比亚迪的股价", { price: true, query: "比亚迪" }],
  ];
  for (const [text, want] of cases) {
    it(JSON.stringify(text), () => {
      const got = parseRequest(text);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(got[k as keyof typeof got], v, `${k} of ${text}`);
      if (!("code" in want)) assert.equal(got.code, undefined);
    });
  }

  it("does not read a code out of a date", () => {
    assert.equal(parseRequest("fundamentals for 20241231").code, undefined);
  });

  it("maps quarters and halves to report periods", () => {
    assert.equal(periodOf("2024 Q1"), "20240331");
    assert.equal(periodOf("H1 2023"), "20230630");
    assert.equal(periodOf("2024年三季报"), "20240930");
    assert.equal(periodOf("no year"), undefined);
  });
});
