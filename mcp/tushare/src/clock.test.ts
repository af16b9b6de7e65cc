import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addDays, minusYears, parseClockTime, shanghaiInstant, shanghaiParts } from "./clock.js";
import { parseCsv } from "./csv.js";

describe("Shanghai calendar", () => {
  it("converts instants to Shanghai dates and back", () => {
    assert.deepEqual(shanghaiParts(Date.UTC(2024, 11, 31, 16, 5)), { date: "20250101", minuteOfDay: 5 });
    assert.equal(shanghaiInstant("20250101", 5), Date.UTC(2024, 11, 31, 16, 5));
  });
  it("adds days and subtracts years on YYYYMMDD", () => {
    assert.equal(addDays("20241231", 1), "20250101");
    assert.equal(addDays("20240301", -1), "20240229");
    assert.equal(minusYears("20240229", 1), "20230228");
    assert.equal(parseClockTime("16:30"), 990);
    assert.throws(() => parseClockTime("25:00"));
  });
});

describe("parseCsv", () => {
  it("reads quoted fields, doubled quotes and CRLF", () => {
    assert.deepEqual(parseCsv('a,b\r\n"x,1","say ""hi"""\n\n3,\n'), [
      ["a", "b"],
      ["x,1", 'say "hi"'],
      ["3", ""],
    ]);
  });
});
