import assert from "node:assert/strict";
import { test } from "node:test";
import { parseKeysFile } from "./keys.js";
import { isUsageOnly, SseSplitter } from "./sse.js";

test("SSE: events split across chunks come out whole; usage read from the last chunk", () => {
  const s = new SseSplitter();
  const a = 'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\nda';
  const b =
    'ta: {"choices":[{"delta":{"content":"lo"}}]}\n\ndata: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\ndata: [DONE]\n\n';
  assert.equal(s.push(a).length, 1);
  const evs = s.push(b);
  assert.equal(evs.length, 3);
  assert.deepEqual(s.usage, { prompt_tokens: 3, completion_tokens: 2 });
  assert.equal(s.deltas, 2);
  assert.ok(isUsageOnly(evs[1]?.data ?? ""));
  assert.ok(!isUsageOnly(evs[0]?.data ?? ""));
});

test("keys file: hashes only, a malformed file is refused, unknown plans fall back to basic", () => {
  const h = "a".repeat(64);
  const m = parseKeysFile(JSON.stringify({ version: 1, keys: { [h]: { profile: "p1", plan: "pro" } } }));
  assert.deepEqual(m.get(h), { profile: "p1", plan: "pro" });
  assert.throws(() => parseKeysFile("{"));
  assert.throws(() => parseKeysFile(JSON.stringify({ version: 1, keys: { "sk-plain": { profile: "p" } } })));
  const m2 = parseKeysFile(JSON.stringify({ version: 1, keys: { [h]: { profile: "p1", plan: "__proto__" } } }));
  assert.equal(m2.get(h)?.plan, "basic");
});
