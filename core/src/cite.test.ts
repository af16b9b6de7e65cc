import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type CiteEnvelope,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  keyMap,
  parsePinnedKeys,
  publicCiteKey,
  signEnvelope,
  verifyCite,
} from "./cite.js";

const key = generateSigningKey();
const keys = keyMap([publicCiteKey(key)]);
const now = Date.parse("2026-11-25T08:00:00Z");
const data = { ts_code: "600519.SH", trade_date: "20241231", close: 1524 };

function envelope(profile = "test-basic-1"): CiteEnvelope<typeof data> {
  return signEnvelope(
    data,
    {
      source: "warehouse",
      api: "daily",
      params: { ts_code: "600519.SH" },
      as_of: "20241231",
      retrieved_at: new Date(now - 1000).toISOString(),
      profile,
      request_id: "req-1",
    },
    key,
  );
}
const opts = { keys, profile: "test-basic-1", now: () => now };
const reasonOf = (e: unknown) => {
  const r = verifyCite(e, opts);
  return r.ok ? "ok" : r.reason;
};

test("a fresh envelope for this profile verifies", () => {
  assert.equal(reasonOf(envelope()), "ok");
});

test("each kind of tampering fails with its own reason", () => {
  const e = envelope();
  assert.equal(reasonOf({ ...e, data: { ...e.data, close: 1525 } }), "data_mismatch");
  assert.equal(reasonOf({ ...e, cite: { ...e.cite, as_of: "20241230" } }), "bad_signature");
  assert.equal(reasonOf({ ...e, cite: { ...e.cite, profile: "test-basic-1x" } }), "bad_signature");
  assert.equal(reasonOf({ ...e, cite: { ...e.cite, sig: Buffer.alloc(64).toString("base64") } }), "bad_signature");
  assert.equal(reasonOf(envelope("test-basic-2")), "wrong_profile");
  assert.equal(reasonOf({ ...e, cite: { ...e.cite, key_id: "ed25519:0000000000000000" } }), "unknown_key");
  assert.equal(reasonOf({ data: e.data }), "malformed");
  assert.equal(reasonOf({ ...e, cite: { ...e.cite, extra: 1 } }), "malformed");
  const other = generateSigningKey();
  const foreign = signEnvelope(e.data, { ...e.cite }, other);
  assert.equal(reasonOf(foreign), "unknown_key");
});

test("an old cite is stale", () => {
  const e = envelope();
  const r = verifyCite(e, { ...opts, now: () => now + 11 * 60_000 });
  assert.equal(r.ok ? "ok" : r.reason, "stale");
  const r2 = verifyCite(e, { ...opts, now: () => now + 11 * 60_000, maxAgeMs: 3600_000 });
  assert.equal(r2.ok, true);
});

test("a stored key reloads to the same key id and still verifies", () => {
  const again = importSigningKey(exportSigningKey(key));
  assert.equal(again.keyId, key.keyId);
  const e = signEnvelope({ a: 1 }, { ...envelope().cite }, again);
  assert.equal(verifyCite(e, { ...opts }).ok, true);
});

test("a cite answers one call: another api or other params are wrong_call", () => {
  const e = envelope();
  const expect = { api: "daily", params: { ts_code: "600519.SH" } };
  assert.equal(verifyCite(e, { ...opts, expect }).ok, true);
  const r = verifyCite(e, { ...opts, expect: { api: "daily", params: { ts_code: "000858.SZ" } } });
  assert.equal(r.ok ? "ok" : r.reason, "wrong_call");
  const r2 = verifyCite(e, { ...opts, expect: { api: "fina_indicator", params: { ts_code: "600519.SH" } } });
  assert.equal(r2.ok ? "ok" : r2.reason, "wrong_call");
  const r3 = verifyCite(e, { ...opts, expect: { api: "daily", params: { ts_code: "600519.SH", as_of: null } } });
  assert.equal(r3.ok ? "ok" : r3.reason, "wrong_call");
});

test("a key past its not_after is refused even for a fresh cite (expired_key)", () => {
  const e = envelope();
  const notAfter = new Map([[key.keyId, now + 1000]]);
  assert.equal(verifyCite(e, { ...opts, notAfter }).ok, true);
  const r = verifyCite(e, { ...opts, notAfter, now: () => now + 2000 });
  assert.equal(r.ok ? "ok" : r.reason, "expired_key");
});

test("pinned keys file: x or public_key, not_after, and a key id that does not match its key is refused", () => {
  const pub = publicCiteKey(key);
  const until = "2026-12-01T00:00:00Z";
  const p = parsePinnedKeys(JSON.stringify({ keys: [{ key_id: pub.key_id, public_key: pub.x, not_after: until }] }));
  assert.ok(p.keys.has(pub.key_id));
  assert.equal(p.notAfter.get(pub.key_id), Date.parse(until));
  const other = publicCiteKey(generateSigningKey());
  assert.throws(() => parsePinnedKeys(JSON.stringify({ keys: [{ key_id: pub.key_id, x: other.x }] })), /does not match/);
  assert.throws(() => parsePinnedKeys("{"));
  assert.throws(() => parsePinnedKeys(JSON.stringify({ keys: [{ key_id: "k" }] })));
});
