import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateSigningKey, signEnvelope } from "@twilight/core";
import { fitContext, sourcesSection, toolContent } from "./agent.js";
import { KeyedLock } from "./lock.js";
import type { ChatMessage } from "./model/types.js";

describe("agent helpers", () => {
  it("fitContext keeps the newest messages within budget and starts at a user message", () => {
    const msgs: ChatMessage[] = [];
    for (let i = 0; i < 10; i++)
      msgs.push(
        { role: "user", content: `q${i} ${"x".repeat(100)}` },
        {
          role: "assistant",
          content: null,
          tool_calls: [{ id: `c${i}`, type: "function", function: { name: "t", arguments: "{}" } }],
        },
        { role: "tool", tool_call_id: `c${i}`, content: "y".repeat(100) },
        { role: "assistant", content: `a${i}` },
      );
    const kept = fitContext(msgs, 1_000);
    assert.equal(kept[0]?.role, "user");
    assert.ok(JSON.stringify(kept).length <= 1_200);
    assert.equal(kept.at(-1)?.content, "a9");
    assert.equal(fitContext(msgs, 10).length, 1, "the newest message is always kept");
    assert.equal(fitContext(msgs, 1e9).length, msgs.length);
  });

  it("tool content: verified data carries its ref; a refusal carries no datum", () => {
    const env = signEnvelope(
      { close: 9 },
      {
        source: "tushare",
        api: "daily",
        params: {},
        as_of: "20250101",
        retrieved_at: new Date().toISOString(),
        profile: "p",
        request_id: "r",
      },
      generateSigningKey(),
    );
    const ok = JSON.parse(toolContent({ kind: "verified", envelope: env }, 3)) as {
      ref: number;
      data: unknown;
      cite: Record<string, unknown>;
    };
    assert.equal(ok.ref, 3);
    assert.deepEqual(ok.data, { close: 9 });
    assert.equal(ok.cite.sig, undefined);
    const no = toolContent({ kind: "refused", reason: "bad_signature", message: "m" }, undefined);
    assert.ok(!no.includes("close"));
    assert.match(no, /cite_refused/);
  });

  it("sources section lists every citation in the user's language", () => {
    const cite = {
      v: 1,
      source: "tushare",
      api: "daily",
      params: { ts_code: "600519.SH" },
      as_of: "20251231",
      retrieved_at: "",
      profile: "p",
      request_id: "r9",
      data_sha256: "",
      key_id: "k",
      sig: "s",
    } as const;
    const s = sourcesSection([{ ref: 1, tool: "t", data: {}, cite }], "en");
    assert.equal(s, "\n\nSources (signatures verified):\n[1] tushare daily 600519.SH · as of 20251231 · request r9");
    assert.match(sourcesSection([{ ref: 1, tool: "t", data: {}, cite }], "zh"), /^\n\n来源/);
    assert.equal(sourcesSection([], "en"), "");
  });

  it("KeyedLock serialises one key and lets other keys run in parallel", async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    const job = (k: string, tag: string, ms: number) =>
      lock.run(k, async () => {
        order.push(`${tag}+`);
        await new Promise((r) => setTimeout(r, ms));
        order.push(`${tag}-`);
      });
    await Promise.all([job("a", "a1", 30), job("a", "a2", 1), job("b", "b1", 5)]);
    assert.deepEqual(order.slice(0, 2), ["a1+", "b1+"]);
    assert.ok(order.indexOf("a2+") > order.indexOf("a1-"));
  });
});
