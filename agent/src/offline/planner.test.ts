import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ChatMessage, ToolCall } from "../model/types.js";
import type { ToolSpec } from "../tools.js";
import { OfflinePlanner, plan } from "./planner.js";

const tool = (bare: string): ToolSpec => ({ name: `mcp__tushare__${bare}`, description: bare, parameters: { type: "object" } });
const TOOLS = ["get_latest_price", "get_fundamentals", "search_stocks", "get_daily_prices"].map(tool);
const sys: ChatMessage = { role: "system", content: "soul" };
const user = (content: string): ChatMessage => ({ role: "user", content });
const argsOf = (c: ToolCall | undefined) => JSON.parse(c?.function.arguments ?? "{}") as Record<string, unknown>;

const BAR = {
  ts_code: "600519.SH",
  trade_date: "20251231",
  open: 1390,
  high: 1394,
  low: 1377.17,
  close: 1377.18,
  pre_close: 1389.72,
  change: -12.54,
  pct_chg: -0.9023,
  vol: 34765.63,
  amount: 4799456.452,
};

function withResults(messages: ChatMessage[], calls: ToolCall[], payloads: unknown[]): ChatMessage[] {
  return [
    ...messages,
    { role: "assistant", content: null, tool_calls: calls },
    ...calls.map(
      (c, i): ChatMessage => ({ role: "tool", tool_call_id: c.id, name: c.function.name, content: JSON.stringify(payloads[i]) }),
    ),
  ];
}

describe("offline planner (a deterministic stand-in, not an LLM)", () => {
  it("plans a price call for a code, then answers with the figure and its ref", () => {
    const m = [sys, user("price of 600519")];
    const s1 = plan(m, TOOLS);
    assert.equal(s1.content, null);
    assert.equal(s1.toolCalls[0]?.function.name, "mcp__tushare__get_latest_price");
    assert.deepEqual(argsOf(s1.toolCalls[0]), { ts_code: "600519.SH" });
    const s2 = plan(withResults(m, s1.toolCalls, [{ ref: 1, data: BAR }]), TOOLS);
    assert.equal(s2.toolCalls.length, 0);
    assert.match(s2.content ?? "", /贵州茅台 \(600519\.SH\) closed at 1,377\.18 CNY on 2025-12-31 \[1\]/);
  });

  it("asks for price and fundamentals together when both are requested", () => {
    const s = plan([sys, user("600519 price and ROE for 2024")], TOOLS);
    assert.deepEqual(
      s.toolCalls.map((c) => [c.function.name, argsOf(c)]),
      [
        ["mcp__tushare__get_latest_price", { ts_code: "600519.SH" }],
        ["mcp__tushare__get_fundamentals", { ts_code: "600519.SH", period: "20241231" }],
      ],
    );
  });

  it("resolves a follow-up from the tool calls of the previous turn", () => {
    const prior = withResults(
      [sys, user("price of Wuliangye")],
      [
        {
          id: "c1",
          type: "function",
          function: { name: "mcp__tushare__get_latest_price", arguments: '{"ts_code":"000858.SZ"}' },
        },
      ],
      [{ ref: 1, data: { ...BAR, ts_code: "000858.SZ" } }],
    );
    const m = [...prior, { role: "assistant", content: "answer" } as ChatMessage, user("and its fundamentals for 2024?")];
    const s = plan(m, TOOLS);
    assert.deepEqual(argsOf(s.toolCalls[0]), { ts_code: "000858.SZ", period: "20241231" });
    assert.equal(s.toolCalls.length, 1);
  });

  it("without history, a follow-up gets help instead of a guess", () => {
    const s = plan([sys, user("and its fundamentals for 2024?")], TOOLS);
    assert.equal(s.toolCalls.length, 0);
    assert.match(s.content ?? "", /I can look up/);
  });

  it("looks up an unknown name with search_stocks, then asks for the data of the match", () => {
    const m = [sys, user("比亚迪的股价")];
    const s1 = plan(m, TOOLS);
    assert.deepEqual(
      [s1.toolCalls[0]?.function.name, argsOf(s1.toolCalls[0])],
      ["mcp__tushare__search_stocks", { query: "比亚迪" }],
    );
    const m2 = withResults(m, s1.toolCalls, [
      { ref: 1, data: { query: "比亚迪", rows: [{ ts_code: "002594.SZ", name: "比亚迪" }] } },
    ]);
    const s2 = plan(m2, TOOLS);
    assert.deepEqual(
      [s2.toolCalls[0]?.function.name, argsOf(s2.toolCalls[0])],
      ["mcp__tushare__get_latest_price", { ts_code: "002594.SZ" }],
    );
    const m3 = withResults(m2, s2.toolCalls, [{ ref: 2, data: { ...BAR, ts_code: "002594.SZ", close: 300.5 } }]);
    const s3 = plan(m3, TOOLS);
    assert.match(s3.content ?? "", /比亚迪 \(002594\.SZ\) 在 2025-12-31 的收盘价为 300\.50 元 \[2\]/);
  });

  it("says so when a name matches nothing", () => {
    const m = [sys, user("price of Foo Industries")];
    const s1 = plan(m, TOOLS);
    const s2 = plan(withResults(m, s1.toolCalls, [{ ref: 1, data: { query: "Foo Industries", rows: [] } }]), TOOLS);
    assert.match(s2.content ?? "", /No A-share stock matches "Foo Industries"/);
  });

  it("never states a figure from a refused result", () => {
    const m = [sys, user("price of 600519")];
    const s1 = plan(m, TOOLS);
    const s2 = plan(withResults(m, s1.toolCalls, [{ error: "cite_refused", reason: "bad_signature", message: "x" }]), TOOLS);
    assert.match(s2.content ?? "", /cite did not verify \(bad_signature\)/);
    assert.ok(!/\d,\d{3}\.\d\d/.test(s2.content ?? ""));
  });

  it("notes when the price is from the trade date before the one asked", () => {
    const m = [sys, user("600519 close on 2026-01-01")];
    const s1 = plan(m, TOOLS);
    const s2 = plan(withResults(m, s1.toolCalls, [{ ref: 1, data: BAR }]), TOOLS);
    assert.match(s2.content ?? "", /no trading on 2026-01-01/);
  });

  it("says the as-of date and that the warehouse is still filling when the data service is seeding", () => {
    const m = [sys, user("latest price of 600519")];
    const s1 = plan(m, TOOLS);
    const seeding = { state: "seeding", as_of: "20250107", days_done: 12, days_total: 480 };
    const s2 = plan(withResults(m, s1.toolCalls, [{ ref: 1, data: BAR, warehouse: seeding }]), TOOLS);
    assert.match(s2.content ?? "", /closed at 1,377\.18 CNY/);
    assert.match(s2.content ?? "", /still being filled \(12 of 480 trading days in\); this is as of 2025-01-07/);
    const zh = [sys, user("600519 最新价格")];
    const z2 = plan(withResults(zh, plan(zh, TOOLS).toolCalls, [{ ref: 1, data: BAR, warehouse: seeding }]), TOOLS);
    assert.match(z2.content ?? "", /仍在初始导入中（已导入 12\/480 个交易日），以上数据截至 2025-01-07/);
    const ready = plan(withResults(m, s1.toolCalls, [{ ref: 1, data: BAR }]), TOOLS);
    assert.doesNotMatch(ready.content ?? "", /still being filled/);
  });

  it("answers without tools when none are offered, and streams its answer in pieces", async () => {
    const pieces: string[] = [];
    const s = await new OfflinePlanner().step({
      messages: [sys, user("price of 600519")],
      tools: [],
      onDelta: (t) => pieces.push(t),
    });
    assert.match(s.content ?? "", /not available/);
    assert.equal(pieces.join(""), s.content);
  });
});
