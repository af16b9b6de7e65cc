import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Cite } from "@twilight/core";
import { formatCite, formatDatum, table } from "./format.js";

describe("stock-research commands: output", () => {
  it("aligns a two-column table, counting CJK characters as two columns", () => {
    assert.equal(
      table([
        ["a", "1"],
        ["long key", "2"],
      ]),
      "a         1\nlong key  2",
    );
    assert.equal(
      table([
        ["名称", "x"],
        ["abcd", "y"],
      ]),
      "名称  x\nabcd  y",
    );
  });

  it("labels known Tushare fields and shows nulls as '-'", () => {
    const t = formatDatum({ ts_code: "600519.SH", close: 1377.18, roe: null, custom: "v" });
    assert.match(t, /^code +600519\.SH$/m);
    assert.match(t, /^close +1377\.18$/m);
    assert.match(t, /^ROE % +-$/m);
    assert.match(t, /^custom +v$/m);
  });

  it("names the cite and its verification", () => {
    const cite: Cite = {
      v: 1,
      source: "tushare",
      api: "daily",
      params: { ts_code: "600519.SH" },
      as_of: "20251231",
      retrieved_at: "2026-01-01T00:00:00.000Z",
      profile: "p1",
      request_id: "req-1",
      data_sha256: "0".repeat(64),
      key_id: "ed25519:abc",
      sig: "s",
    };
    const s = formatCite(cite);
    assert.match(s, /verified \(Ed25519 ed25519:abc\) for profile p1/);
    assert.match(s, /tushare daily ts_code=600519\.SH · as of 20251231 · retrieved 2026-01-01T00:00:00\.000Z · request req-1/);
  });
});
