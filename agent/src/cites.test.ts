import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, generateSigningKey, publicCiteKey, signEnvelope } from "@twilight/core";
import { CiteGuard, warehouseNoteOf } from "./cites.js";
import { AgentMetrics } from "./metrics.js";
import type { ToolResult } from "./tools.js";

const log = createLogger("cites-test", { level: "silent" });
const key = generateSigningKey();
const other = generateSigningKey();

const meta = (profile: string, retrieved = new Date().toISOString()) => ({
  source: "tushare",
  api: "daily",
  params: { ts_code: "600519.SH", as_of: null },
  as_of: "20251231",
  retrieved_at: retrieved,
  profile,
  request_id: "r1",
});
const result = (env: unknown, opts: { textOnly?: boolean } = {}): ToolResult =>
  opts.textOnly ? { isError: false, text: JSON.stringify(env) } : { isError: false, text: JSON.stringify(env), structured: env };

async function failureCount(m: AgentMetrics, reason: string): Promise<number> {
  const v = (await m.citeFailures.get()).values.find((x) => x.labels.reason === reason);
  return v?.value ?? 0;
}

describe("cite gate", () => {
  const mk = (over: Partial<ConstructorParameters<typeof CiteGuard>[0]> = {}) => {
    const metrics = new AgentMetrics("p1");
    const guard = new CiteGuard({ profile: "p1", trustedKeys: [publicCiteKey(key)], maxAgeMs: 600_000, metrics, log, ...over });
    return { metrics, guard };
  };

  it("passes a good envelope (structured or text-only)", async () => {
    const { guard } = mk();
    const env = signEnvelope({ close: 1 }, meta("p1"), key);
    assert.equal((await guard.check("mcp__tushare__get_latest_price", { ts_code: "600519" }, result(env))).kind, "verified");
    assert.equal(
      (await guard.check("mcp__tushare__get_latest_price", { ts_code: "600519" }, result(env, { textOnly: true }))).kind,
      "verified",
    );
  });

  const bad: [string, string, () => unknown][] = [
    ["tampered data", "data_mismatch", () => ({ ...signEnvelope({ close: 1 }, meta("p1"), key), data: { close: 2 } })],
    [
      "tampered cite",
      "bad_signature",
      () => {
        const e = signEnvelope({ close: 1 }, meta("p1"), key);
        return { ...e, cite: { ...e.cite, as_of: "20200101" } };
      },
    ],
    ["another profile's cite", "wrong_profile", () => signEnvelope({ close: 1 }, meta("p2"), key)],
    ["an untrusted key", "unknown_key", () => signEnvelope({ close: 1 }, meta("p1"), other)],
    ["a stale cite", "stale", () => signEnvelope({ close: 1 }, meta("p1", new Date(Date.now() - 3_600_000).toISOString()), key)],
    ["a broken cite", "malformed", () => ({ data: { close: 1 }, cite: { v: 1 } })],
  ];
  for (const [what, reason, make] of bad) {
    it(`refuses ${what} (${reason}) and counts exactly one failure`, async () => {
      const { guard, metrics } = mk();
      const r = await guard.check("mcp__tushare__get_latest_price", { ts_code: "600519" }, result(make()));
      assert.equal(r.kind, "refused");
      assert.equal(r.kind === "refused" && r.reason, reason);
      assert.equal(await failureCount(metrics, reason), 1);
      const total = (await metrics.citeFailures.get()).values.reduce((s, v) => s + v.value, 0);
      assert.equal(total, 1);
    });
  }

  it("refuses a market result without a cite, but passes other tools' plain results", async () => {
    const { guard, metrics } = mk();
    const r = await guard.check(
      "mcp__tushare__get_latest_price",
      { ts_code: "600519" },
      {
        isError: false,
        text: '{"close":1}',
        structured: { close: 1 },
      },
    );
    assert.equal(r.kind === "refused" && r.reason, "malformed");
    assert.equal((await guard.check("mcp__notes__read", {}, { isError: false, text: "hello" })).kind, "plain");
    assert.equal((await guard.check("mcp__tushare__get_latest_price", {}, { isError: true, text: "bad code" })).kind, "plain");
    assert.equal(await failureCount(metrics, "malformed"), 1);
  });
});

describe("the data service's seeding note (_meta, outside the signature)", () => {
  const r = (meta?: Record<string, unknown>): ToolResult => ({ isError: false, text: "", ...(meta ? { meta } : {}) });
  it("is read when it says seeding with a YYYYMMDD as-of date, and ignored otherwise", () => {
    const m = { state: "seeding", as_of: "20250107", days_done: 3, days_total: 9, note: "x" };
    assert.deepEqual(warehouseNoteOf(r({ "twilight/warehouse": m })), {
      state: "seeding",
      as_of: "20250107",
      days_done: 3,
      days_total: 9,
    });
    assert.equal(warehouseNoteOf(r()), undefined);
    assert.equal(warehouseNoteOf(r({ "twilight/warehouse": { ...m, state: "ready" } })), undefined);
    assert.equal(warehouseNoteOf(r({ "twilight/warehouse": { ...m, as_of: "<script>" } })), undefined);
  });
});
