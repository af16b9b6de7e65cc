import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { keyMap, publicCiteKey, verifyCite } from "@twilight/core";
import { OfflinePlanner } from "./offline/planner.js";
import { FakeDataService } from "./testing/fake-data-service.js";
import { answerOf, chat, makeProfileDir, type RunningAgent, removeDir, startAgent } from "./testing/harness.js";
import { RecordingModel } from "./testing/recording-model.js";

interface Citation {
  ref: number;
  data: Record<string, unknown>;
  cite: Record<string, unknown>;
}

describe("offline model over a real MCP endpoint", () => {
  const svc = new FakeDataService({ tmcp_alpha: "alpha", tmcp_beta: "beta" });
  const dirs: string[] = [];
  let alpha: RunningAgent;
  let beta: RunningAgent;
  const alphaModel = new RecordingModel(new OfflinePlanner());
  const betaModel = new RecordingModel(new OfflinePlanner());

  before(async () => {
    await svc.start();
    const mk = (name: string) => {
      const d = makeProfileDir({ name, mcpUrl: svc.url, pinnedKeys: svc.pinnedKeys(), mcpToken: `tmcp_${name}` });
      dirs.push(d);
      return d;
    };
    alpha = await startAgent(mk("alpha"), { model: alphaModel });
    beta = await startAgent(mk("beta"), { model: betaModel });
  });

  after(async () => {
    await alpha?.stop();
    await beta?.stop();
    await svc.stop();
    for (const d of dirs) removeDir(d);
  });

  it("answers a price question by code with a cite that verifies, figures matching the cite", async () => {
    const r = await chat(alpha, { messages: [{ role: "user", content: "What is the latest price of 600519?" }] });
    assert.equal(r.status, 200);
    const cits = r.json.citations as Citation[];
    assert.equal(cits.length, 1);
    const c = cits[0] as Citation;
    const v = verifyCite(c, { keys: keyMap([publicCiteKey(svc.key)]), profile: "alpha" });
    assert.ok(v.ok, "citation verifies with the data service key");
    assert.equal(c.data.close, 1377.18);
    const text = answerOf(r.json);
    assert.match(text, /1,377\.18 CNY on 2025-12-31 \[1\]/);
    assert.match(text, /Sources \(signatures verified\):\n\[1\] tushare daily 600519\.SH/);
    assert.ok(r.session?.startsWith("sess_"));
  });

  it("keeps a three-turn conversation; other sessions and profiles see none of it (model input)", async () => {
    const s = "conv-three-turns";
    const t1 = await chat(alpha, { messages: [{ role: "user", content: "Price of Kweichow Moutai on 2024-12-31?" }] }, s);
    assert.match(answerOf(t1.json), /1,524\.00 CNY on 2024-12-31/);
    const t2 = await chat(alpha, { messages: [{ role: "user", content: "and its fundamentals for 2024?" }] }, s);
    const f = (t2.json.citations as Citation[])[0] as Citation;
    assert.equal(f.data.ts_code, "600519.SH");
    assert.equal(f.data.end_date, "20241231");
    assert.match(answerOf(t2.json), /\| ROE \| 38\.43% \|/);
    const t3 = await chat(alpha, { messages: [{ role: "user", content: "And the same for 五粮液?" }] }, s);
    const f3 = (t3.json.citations as Citation[])[0] as Citation;
    assert.equal(f3.data.ts_code, "000858.SZ");
    assert.equal(f3.data.end_date, "20241231");
    // turn 3's model input held turns 1 and 2 of this session
    const lastInput = alphaModel.inputs.at(-1) ?? [];
    const userTexts = lastInput.filter((m) => m.role === "user").map((m) => m.content);
    assert.deepEqual(userTexts, [
      "Price of Kweichow Moutai on 2024-12-31?",
      "and its fundamentals for 2024?",
      "And the same for 五粮液?",
    ]);

    // another session on the same profile: the follow-up has nothing to refer to
    const before = alphaModel.inputs.length;
    const other = await chat(alpha, { messages: [{ role: "user", content: "and its fundamentals for 2024?" }] }, "conv-other");
    assert.equal((other.json.citations as Citation[]).length, 0);
    const seen = JSON.stringify(alphaModel.inputs.slice(before));
    assert.ok(!seen.includes("Moutai") && !seen.includes("600519") && !seen.includes("五粮液"), "no bleed into another session");

    // another profile, even with the same session id
    const b = await chat(beta, { messages: [{ role: "user", content: "and its fundamentals for 2024?" }] }, s);
    assert.equal((b.json.citations as Citation[]).length, 0);
    const betaSeen = JSON.stringify(betaModel.inputs);
    assert.ok(!betaSeen.includes("Moutai") && !betaSeen.includes("600519"), "no bleed into another profile");
    assert.match(betaSeen, /research assistant of profile beta/);
    assert.ok(!betaSeen.includes("profile alpha"));
  });

  it("understands Chinese requests and follow-ups", async () => {
    const s = "zh-session";
    const t1 = await chat(alpha, { messages: [{ role: "user", content: "贵州茅台的股价是多少？" }] }, s);
    assert.match(answerOf(t1.json), /贵州茅台 \(600519\.SH\) 在 2025-12-31 的收盘价为 1,377\.18 元/);
    assert.match(answerOf(t1.json), /来源（已验证签名）/);
    const t2 = await chat(alpha, { messages: [{ role: "user", content: "它2024年的基本面呢" }] }, s);
    const c = (t2.json.citations as Citation[])[0] as Citation;
    assert.equal(c.data.ts_code, "600519.SH");
    assert.match(answerOf(t2.json), /\| 净资产收益率 \| 38\.43% \|/);
  });

  it("lists sessions and returns one session's messages in order", async () => {
    const list = await fetch(`${alpha.url}/api/sessions`, { headers: { authorization: `Bearer ${alpha.apiKey}` } });
    const body = (await list.json()) as { data: { id: string }[] };
    assert.ok(body.data.some((s) => s.id === "conv-three-turns"));
    const one = await fetch(`${alpha.url}/api/sessions/conv-three-turns`, {
      headers: { authorization: `Bearer ${alpha.apiKey}` },
    });
    const s = (await one.json()) as { turn_count: number; messages: { seq: number; role: string; turn: number }[] };
    assert.equal(s.turn_count, 3);
    assert.deepEqual(
      s.messages.map((m) => m.seq),
      s.messages.map((_m, i) => i + 1),
    );
    assert.equal(s.messages.filter((m) => m.role === "user").length, 3);
    const missing = await fetch(`${beta.url}/api/sessions/zh-session`, { headers: { authorization: `Bearer ${beta.apiKey}` } });
    assert.equal(missing.status, 404);
  });
});
