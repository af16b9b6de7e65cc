/** The abuse corpus: every forged or wrong notification is refused, counted by reason, and changes nothing. */
import assert from "node:assert/strict";
import { createPrivateKey, randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { generateSimKeys } from "../sim/keys.js";
import { json, type Stack, startStack } from "../testkit.js";
import { encryptResource, nonceStr, rfc3339Beijing, signedHeaders, type Transaction } from "../wechatpay/protocol.js";

let s: Stack;
const stranger = generateSimKeys();
before(async () => {
  s = await startStack();
});
after(async () => {
  await s.close();
});

async function newOrder(): Promise<{ order_id: string; out_trade_no: string; amount_fen: number }> {
  return json(
    fetch(`${s.url}/v1/orders`, {
      method: "POST",
      body: JSON.stringify({ user_id: "u-abuse", plan: "basic", channel: "wxid_abuse" }),
    }),
  );
}

function tx(no: string, over: Partial<Transaction> = {}): Transaction {
  return {
    appid: s.keys.appid,
    mchid: s.keys.mchid,
    out_trade_no: no,
    transaction_id: "4200000000000000000000000001",
    trade_type: "NATIVE",
    trade_state: "SUCCESS",
    trade_state_desc: "支付成功",
    success_time: rfc3339Beijing(Date.now()),
    payer: { openid: "o-test" },
    amount: { total: 2900, payer_total: 2900, currency: "CNY", payer_currency: "CNY" },
    ...over,
  };
}

interface Craft {
  plaintext?: object;
  raw?: string;
  tamper?: boolean;
  serial?: string;
  key?: string;
  timestamp?: string;
  dropHeaders?: boolean;
}

function craft(c: Craft): { headers: Record<string, string>; raw: string } {
  let raw = c.raw;
  if (raw === undefined) {
    const resource = encryptResource(JSON.stringify(c.plaintext), s.keys.apiV3Key, "transaction");
    if (c.tamper) {
      const b = Buffer.from(resource.ciphertext, "base64");
      b[3] = (b[3] ?? 0) ^ 0xff;
      resource.ciphertext = b.toString("base64");
    }
    raw = JSON.stringify({
      id: randomUUID(),
      create_time: rfc3339Beijing(Date.now()),
      resource_type: "encrypt-resource",
      event_type: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      resource: { original_type: "transaction", ...resource },
    });
  }
  const key = createPrivateKey(c.key ?? s.keys.platformPubKey.privateKeyPem);
  const headers = signedHeaders(raw, c.serial ?? s.keys.platformPubKey.id, key, c.timestamp);
  return {
    headers: c.dropHeaders ? { "content-type": "application/json" } : { ...headers, "content-type": "application/json" },
    raw,
  };
}

async function send(n: { headers: Record<string, string>; raw: string }): Promise<Response> {
  return fetch(`${s.url}/v1/payments/wechat/notify`, { method: "POST", headers: n.headers, body: n.raw });
}

async function counter(reason: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const m = new RegExp(`billing_notifications_total\\{result="refused",reason="${reason}"\\} (\\d+)`).exec(text);
  return m ? Number(m[1]) : 0;
}

async function refused(
  reason: string,
  make: (o: {
    out_trade_no: string;
  }) => { headers: Record<string, string>; raw: string } | Promise<{ headers: Record<string, string>; raw: string }>,
) {
  const o = await newOrder();
  const before = await counter(reason);
  const calls = s.fleet.calls.length;
  const res = await send(await make(o));
  assert.ok(res.status >= 400, `${reason}: answered ${res.status}`);
  const body = (await res.json()) as { code: string; message: string };
  assert.equal(body.code, "FAIL");
  assert.ok(body.message.length > 0);
  assert.equal(await counter(reason), before + 1, `${reason} counted`);
  const v = await json<{ status: string; events: { kind: string }[] }>(fetch(`${s.url}/v1/orders/${o.order_id}`));
  assert.equal(v.status, "created", `${reason}: order unchanged`);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(s.fleet.calls.length, calls, `${reason}: nothing provisioned`);
}

test("forged signature (signed by a key that is not WeChat Pay's)", () =>
  refused("bad_signature", (o) => craft({ plaintext: tx(o.out_trade_no), key: stranger.platformPubKey.privateKeyPem })));
test("missing signature headers", () =>
  refused("missing_signature", (o) => craft({ plaintext: tx(o.out_trade_no), dropHeaders: true })));
test("unknown serial", () =>
  refused("unknown_serial", (o) =>
    craft({ plaintext: tx(o.out_trade_no), serial: stranger.platformPubKey.id, key: stranger.platformPubKey.privateKeyPem }),
  ));
test("stale timestamp (6 minutes old)", () =>
  refused("stale_timestamp", (o) =>
    craft({ plaintext: tx(o.out_trade_no), timestamp: String(Math.floor(Date.now() / 1000) - 360) }),
  ));
test("tampered ciphertext (even when re-signed)", () =>
  refused("decrypt_failed", (o) => craft({ plaintext: tx(o.out_trade_no), tamper: true })));
test("wrong amount", () =>
  refused("amount_mismatch", (o) =>
    craft({ plaintext: tx(o.out_trade_no, { amount: { total: 1, payer_total: 1, currency: "CNY" } }) }),
  ));
test("wrong mchid", () => refused("mchid_mismatch", (o) => craft({ plaintext: tx(o.out_trade_no, { mchid: "1900000999" }) })));
test("wrong appid", () =>
  refused("appid_mismatch", (o) => craft({ plaintext: tx(o.out_trade_no, { appid: "wx0000000000000000" }) })));
test("wrong currency", () =>
  refused("currency_mismatch", (o) =>
    craft({ plaintext: tx(o.out_trade_no, { amount: { total: 2900, payer_total: 2900, currency: "USD" } }) }),
  ));
test("unknown order", () => refused("unknown_order", () => craft({ plaintext: tx("TWNOSUCHORDER0001") })));
test("malformed JSON (correctly signed)", () => refused("malformed_json", () => craft({ raw: '{"id": "x", "resource": ' })));
test("oversized body", () =>
  refused("oversized", () => ({
    headers: { "content-type": "application/json" },
    raw: JSON.stringify({ pad: "x".repeat(70 * 1024) }),
  })));
test("WeChat's probe (bad signature, sent by the simulator) is refused, counted, not fatal", async () => {
  const o = await newOrder();
  const before = await counter("bad_signature");
  const sent = s.sim.notifier.sent.length;
  await fetch(`${s.simUrl}/sim/probe`, {
    method: "POST",
    body: JSON.stringify({ notify_url: `${s.url}/v1/payments/wechat/notify` }),
  });
  await s.sim.notifier.idle();
  assert.equal(s.sim.notifier.sent[sent]?.attempts[0]?.status, 401);
  assert.equal(await counter("bad_signature"), before + 1);
  assert.equal((await json<{ status: string }>(fetch(`${s.url}/health`))).status, "ok");
  assert.equal((await json<{ status: string }>(fetch(`${s.url}/v1/orders/${o.order_id}`))).status, "created");
});
test("wrong amount through the real path (simulator pays a different amount)", async () => {
  const o = await newOrder();
  const before = await counter("amount_mismatch");
  await fetch(`${s.simUrl}/sim/pay/${o.out_trade_no}`, { method: "POST", body: JSON.stringify({ amount: 1 }) });
  await new Promise((r) => setTimeout(r, 300));
  assert.ok((await counter("amount_mismatch")) > before);
  assert.equal((await json<{ status: string }>(fetch(`${s.url}/v1/orders/${o.order_id}`))).status, "created");
});

test("a replayed notification (same headers and body) is refused, and changes nothing more", async () => {
  const o = await newOrder();
  const n = craft({ plaintext: tx(o.out_trade_no) });
  assert.equal((await send(n)).status, 204);
  const calls = s.fleet.calls.length;
  const before = await counter("replayed_nonce");
  const res = await send(n);
  assert.equal(res.status, 401);
  assert.equal(await counter("replayed_nonce"), before + 1);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(s.fleet.calls.length <= calls + 1, "at most the one legitimate delivery");
  const kinds = (await json<{ events: { kind: string }[] }>(fetch(`${s.url}/v1/orders/${o.order_id}`))).events.map((e) => e.kind);
  assert.equal(kinds.filter((k) => k === "paid").length, 1);
});

test("nonce strings are what WeChat uses", () => {
  assert.match(nonceStr(), /^[A-Za-z0-9]{32}$/);
});
