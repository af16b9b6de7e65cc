import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeDataService } from "./testing/fake-data-service.js";
import { FakeOpenAi } from "./testing/fake-openai.js";
import { answerOf, chat, makeProfileDir, type RunningAgent, removeDir, startAgent } from "./testing/harness.js";

interface Sse {
  chunks: Record<string, unknown>[];
  done: boolean;
}

async function streamChat(a: RunningAgent, content: string, session?: string): Promise<Sse & { status: number }> {
  const res = await fetch(`${a.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${a.apiKey}`, ...(session ? { "x-session-id": session } : {}) },
    body: JSON.stringify({ stream: true, messages: [{ role: "user", content }] }),
  });
  const text = await res.text();
  const out: Sse = { chunks: [], done: false };
  for (const block of text.split("\n\n")) {
    const line = block.trim();
    if (!line.startsWith("data: ")) continue;
    const data = line.slice(6);
    if (data === "[DONE]") out.done = true;
    else out.chunks.push(JSON.parse(data) as Record<string, unknown>);
  }
  return { ...out, status: res.status };
}

const deltaText = (s: Sse) =>
  s.chunks.map((c) => (c.choices as { delta: { content?: string } }[] | undefined)?.[0]?.delta.content ?? "").join("");

describe("custom (OpenAI-compatible) model against a local OpenAI-protocol server", () => {
  const svc = new FakeDataService({ tmcp_gamma: "gamma", tmcp_delta: "delta" });
  const llm = new FakeOpenAi();
  const dirs: string[] = [];
  let gamma: RunningAgent;
  let delta: RunningAgent;
  let slow: RunningAgent;

  before(async () => {
    await svc.start();
    await llm.start();
    const mk = (name: string, timeout = 10) => {
      const d = makeProfileDir({
        name,
        mcpUrl: svc.url,
        pinnedKeys: svc.pinnedKeys(),
        mcpToken: `tmcp_${name}`,
        model: { provider: "custom", base_url: llm.baseUrl, default: "fake-qwen", timeout_seconds: timeout, max_retries: 0 },
      });
      dirs.push(d);
      return d;
    };
    gamma = await startAgent(mk("gamma"));
    delta = await startAgent(mk("delta"));
    slow = await startAgent(mk("slow", 0.3));
  });

  after(async () => {
    for (const a of [gamma, delta, slow]) await a?.stop();
    await llm.stop();
    await svc.stop();
    for (const d of dirs) removeDir(d);
  });

  it("runs the tool-calling loop: the model calls an MCP tool, sees only the verified result, answers with a citation", async () => {
    const n0 = llm.requests.length;
    const r = await chat(gamma, { model: "anything", messages: [{ role: "user", content: "price of 600519 please" }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.model, "fake-qwen");
    const reqs = llm.requests.slice(n0);
    assert.equal(reqs.length, 2, "one step with the tool call, one with the result");
    assert.ok(reqs[0]?.tools?.some((t) => t.function.name === "mcp__tushare__get_latest_price"));
    assert.equal(reqs[0]?.messages[0]?.role, "system");
    assert.match(reqs[0]?.messages[0]?.content ?? "", /stock-research: Fetch cited A-share prices/);
    const toolMsg = reqs[1]?.messages.at(-1);
    assert.equal(toolMsg?.role, "tool");
    const payload = JSON.parse(toolMsg?.content ?? "{}") as { ref: number; cite_verified: boolean; data: { close: number } };
    assert.deepEqual([payload.ref, payload.cite_verified, payload.data.close], [1, true, 1377.18]);
    assert.match(answerOf(r.json), /^600519\.SH closed at 1377\.18 \[1\]\.\n\nSources/);
    assert.equal((r.json.citations as unknown[]).length, 1);
  });

  it("streams SSE chunks (model streaming included) and ends with citations and [DONE]", async () => {
    const s = await streamChat(gamma, "price of 000858 please", "stream-1");
    assert.equal(s.status, 200);
    assert.ok(s.done);
    assert.ok(s.chunks.length > 4, `expected several chunks, got ${s.chunks.length}`);
    const last = s.chunks.at(-1) as { choices: { finish_reason: string }[]; citations: unknown[]; session_id: string };
    assert.equal(last.choices[0]?.finish_reason, "stop");
    assert.equal(last.citations.length, 1);
    assert.equal(last.session_id, "stream-1");
    assert.match(deltaText(s), /^000858\.SZ closed at 105\.94 \[1\]\.\n\nSources/);
    assert.equal(llm.requests.at(-1)?.stream, true);
  });

  it("isolates conversations: the model's input for another session or profile holds none of this one", async () => {
    const s = "iso-a";
    await chat(gamma, { messages: [{ role: "user", content: "remember the word PINEAPPLE-7" }] }, s);
    await chat(gamma, { messages: [{ role: "user", content: "and also MANGO-3" }] }, s);
    const n0 = llm.requests.length;
    await chat(gamma, { messages: [{ role: "user", content: "what did I say?" }] }, s);
    const own = JSON.stringify(llm.requests.slice(n0));
    assert.ok(own.includes("PINEAPPLE-7") && own.includes("MANGO-3"), "the same session keeps its context");

    const n1 = llm.requests.length;
    await chat(gamma, { messages: [{ role: "user", content: "what did I say?" }] }, "iso-b");
    await chat(delta, { messages: [{ role: "user", content: "what did I say?" }] }, s);
    const others = llm.requests.slice(n1);
    assert.equal(others.length, 2);
    for (const req of others) {
      const seen = JSON.stringify(req.messages);
      assert.ok(!seen.includes("PINEAPPLE") && !seen.includes("MANGO"), `bleed: ${seen}`);
      assert.deepEqual(
        req.messages.map((m) => m.role),
        ["system", "user"],
      );
    }
    assert.match(JSON.stringify(others[1]?.messages[0]), /profile delta/);
  });

  it("turns a model timeout into a clean 504, streaming or not, and stores nothing for the failed turn", async () => {
    llm.delayMs = 2_000;
    try {
      const t0 = Date.now();
      const r = await chat(slow, { messages: [{ role: "user", content: "hello" }] }, "slow-1");
      assert.equal(r.status, 504);
      assert.equal((r.json.error as { code: string }).code, "TIMEOUT");
      assert.ok(Date.now() - t0 < 1_800, "failed before the model answered");
      const s = await streamChat(slow, "hello", "slow-2");
      assert.ok(s.done);
      assert.equal((s.chunks.at(-1) as { error: { code: string } }).error.code, "TIMEOUT");
      const one = await fetch(`${slow.url}/api/sessions/slow-1`, { headers: { authorization: `Bearer ${slow.apiKey}` } });
      assert.equal(one.status, 404);
    } finally {
      llm.delayMs = 0;
    }
  });

  it("maps a model service error to 502", async () => {
    llm.brain = () => ({ status: 500 });
    try {
      const r = await chat(gamma, { messages: [{ role: "user", content: "hi" }] });
      assert.equal(r.status, 502);
      assert.equal((r.json.error as { code: string }).code, "UPSTREAM");
    } finally {
      const { scriptedBrain } = await import("./testing/fake-openai.js");
      llm.brain = scriptedBrain;
    }
  });
});
