import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type CiteEnvelope,
  exportSigningKey,
  generateSigningKey,
  importSigningKey,
  keyMap,
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
