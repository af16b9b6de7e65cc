import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { shanghaiInstant } from "../clock.js";
import { dueDate, isRunDue, nextDueAt, openDaysBehind, planDaily, planFundamentals, reportPeriods } from "./plan.js";

const AFTER = 16 * 60 + 30;
const at = (date: string, hh: number, mm = 0) => shanghaiInstant(date, hh * 60 + mm);

describe("dueDate", () => {
  it("is today after the close and yesterday before it (Asia/Shanghai)", () => {
    assert.equal(dueDate(at("20241231", 16, 29), AFTER), "20241230");
    assert.equal(dueDate(at("20241231", 16, 30), AFTER), "20241231");
    // 00:30 in Shanghai is still the previous UTC day: the Shanghai date counts.
    assert.equal(dueDate(Date.UTC(2024, 11, 31, 16, 30), AFTER), "20241231");
  });
});

describe("isRunDue", () => {
  const retry = 30 * 60_000;
  it("is due with no run at all", () => {
    assert.equal(isRunDue({ now: at("20241231", 9), afterCloseMin: AFTER, last: null, retryFailedMs: retry }), true);
  });
  it("is not due again on the same day after a good run, and due after the next close", () => {
    const last = { startedAt: at("20241231", 16, 31), status: "ok" };
    assert.equal(isRunDue({ now: at("20241231", 23), afterCloseMin: AFTER, last, retryFailedMs: retry }), false);
    assert.equal(isRunDue({ now: at("20250101", 16, 0), afterCloseMin: AFTER, last, retryFailedMs: retry }), false);
    assert.equal(isRunDue({ now: at("20250101", 16, 30), afterCloseMin: AFTER, last, retryFailedMs: retry }), true);
  });
  it("retries a failed run after the retry interval, not before", () => {
    const last = { startedAt: at("20241231", 17), status: "failed" };
    assert.equal(isRunDue({ now: at("20241231", 17, 29), afterCloseMin: AFTER, last, retryFailedMs: retry }), false);
    assert.equal(isRunDue({ now: at("20241231", 17, 30), afterCloseMin: AFTER, last, retryFailedMs: retry }), true);
    assert.equal(
      nextDueAt({ now: at("20241231", 17, 10), afterCloseMin: AFTER, last, retryFailedMs: retry }),
      at("20241231", 17, 30),
    );
  });
  it("never starts a second run while one is running", () => {
    const last = { startedAt: at("20241230", 17), status: "running" };
    assert.equal(isRunDue({ now: at("20241231", 18), afterCloseMin: AFTER, last, retryFailedMs: retry }), false);
  });
});

describe("planDaily", () => {
  const days = ["20241227", "20241230", "20241231"];
  const watch = ["600519.SH", "000858.SZ"];
  it("plans every open day of the window on an empty warehouse, one fetch per stock", () => {
    const p = planDaily({ openDays: days, watch, loaded: new Set() });
    assert.deepEqual(
      p.days.map((d) => d.trade_date),
      days,
    );
    assert.deepEqual(p.fetches, [
      { ts_code: "600519.SH", start_date: "20241227", end_date: "20241231" },
      { ts_code: "000858.SZ", start_date: "20241227", end_date: "20241231" },
    ]);
  });
  it("plans only missing (day, stock) pairs, and nothing once all are loaded", () => {
    const loaded = new Set(["20241227|600519.SH", "20241227|000858.SZ", "20241230|600519.SH"]);
    const p = planDaily({ openDays: days, watch, loaded });
    assert.deepEqual(p.days, [
      { trade_date: "20241230", codes: ["000858.SZ"] },
      { trade_date: "20241231", codes: ["600519.SH", "000858.SZ"] },
    ]);
    assert.deepEqual(p.fetches, [
      { ts_code: "600519.SH", start_date: "20241231", end_date: "20241231" },
      { ts_code: "000858.SZ", start_date: "20241230", end_date: "20241231" },
    ]);
    const all = new Set(days.flatMap((d) => watch.map((c) => `${d}|${c}`)));
    assert.deepEqual(planDaily({ openDays: days, watch, loaded: all }), { fetches: [], days: [] });
  });
  it("a stock added to the watch list gets its own backfill", () => {
    const loaded = new Set(days.map((d) => `${d}|600519.SH`));
    const p = planDaily({ openDays: days, watch: ["600519.SH", "000001.SZ"], loaded });
    assert.deepEqual(p.fetches, [{ ts_code: "000001.SZ", start_date: "20241227", end_date: "20241231" }]);
  });
});

describe("fundamentals planning", () => {
  it("lists quarter ends in a window", () => {
    assert.deepEqual(reportPeriods("20240215", "20241231"), ["20240331", "20240630", "20240930", "20241231"]);
  });
  it("asks for ended periods not stored and not checked lately", () => {
    const todo = planFundamentals({
      codes: ["600519.SH"],
      periods: ["20240630", "20240930", "20241231", "20250331"],
      stored: new Set(["600519.SH|20240630"]),
      checked: new Map([["600519.SH|20240930", "20250105"]]),
      today: "20250110",
      recheckDays: 7,
    });
    assert.deepEqual(todo, [{ ts_code: "600519.SH", period: "20241231" }]);
  });
});

describe("openDaysBehind", () => {
  it("counts open days after the newest stored up to the expected one", () => {
    const open = ["20241227", "20241230", "20241231", "20250102"];
    assert.equal(openDaysBehind(open, "20241231", "20241231"), 0);
    assert.equal(openDaysBehind(open, "20241227", "20250102"), 3);
    assert.equal(openDaysBehind(open, null, "20241230"), 2);
  });
});
