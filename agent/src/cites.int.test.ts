import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { FakeDataService } from "./testing/fake-data-service.js";
import { answerOf, chat, makeProfileDir, type RunningAgent, removeDir, startAgent } from "./testing/harness.js";

async function failures(a: RunningAgent): Promise<Record<string, number>> {
  const res = await fetch(`${a.url}/metrics`, { headers: { authorization: `Bearer ${a.apiKey}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^hermes_cite_verification_failures_total\{profile="epsilon",reason="([a-z_]+)"\} (\d+)$/gm))
    out[m[1] as string] = Number(m[2]);
  const q = /^hermes_query_total\{profile="epsilon"\} (\d+)$/m.exec(text);
  out.queries = Number(q?.[1] ?? -1);
  const d = /^hermes_query_duration_seconds_count\{profile="epsilon"\} (\d+)$/m.exec(text);
  out.durations = Number(d?.[1] ?? 0);
  return out;
}

describe("cite gate through the API", () => {
  const svc = new FakeDataService({ tmcp_epsilon: "epsilon" });
  let a: RunningAgent;
  let dir: string;

  before(async () => {
    await svc.start();
    dir = makeProfileDir({ name: "epsilon", mcpUrl: svc.url, pinnedKeys: svc.pinnedKeys() });
    a = await startAgent(dir);
  });

  after(async () => {
    await a?.stop();
    await svc.stop();
    removeDir(dir);
  });

  const cases = [
    { mode: "tamper", reason: "data_mismatch" },
    { mode: "foreign", reason: "wrong_profile" },
    { mode: "unknown_key", reason: "unknown_key" },
    { mode: "no_cite", reason: "malformed" },
  ] as const;

  for (const c of cases) {
    it(`refuses a ${c.mode} cite, counts exactly one failure (${c.reason}), and states no figure`, async () => {
      const before = await failures(a);
      svc.queue.push(c.mode);
      const r = await chat(a, { messages: [{ role: "user", content: "price of 600519" }] });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json.citations, []);
      const text = answerOf(r.json);
      assert.match(text, new RegExp(`cite did not verify \\(${c.reason}\\)`));
      assert.ok(!/1,377\.18|1\.23/.test(text), "no figure from the refused datum");
      const now = await failures(a);
      assert.equal(now[c.reason], (before[c.reason] ?? 0) + 1);
      for (const k of Object.keys(now))
        if (k !== c.reason && k !== "queries" && k !== "durations") assert.equal(now[k], before[k], k);
      assert.equal(now.queries, (before.queries ?? 0) + 1);
      assert.equal(now.durations, (before.durations ?? 0) + 1);
    });
  }

  it("refuses a valid cite of this profile replayed for another call (wrong_call)", async () => {
    const first = await chat(a, { messages: [{ role: "user", content: "price of 000858" }] });
    assert.equal((first.json.citations as unknown[]).length, 1);
    const before = await failures(a);
    svc.queue.push("replay");
    const r = await chat(a, { messages: [{ role: "user", content: "price of 600519" }] });
    assert.deepEqual(r.json.citations, []);
    assert.match(answerOf(r.json), /cite did not verify \(wrong_call\)/);
    assert.ok(!/140\.04|107\.36/.test(answerOf(r.json)), "no figure from the replayed datum");
    assert.equal((await failures(a)).wrong_call, (before.wrong_call ?? 0) + 1);
  });

  it("accepts the next good result after refusals", async () => {
    const r = await chat(a, { messages: [{ role: "user", content: "price of 600519" }] });
    assert.equal((r.json.citations as unknown[]).length, 1);
    assert.match(answerOf(r.json), /1,377\.18/);
  });
});
