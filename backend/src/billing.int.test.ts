import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { verifyProvisionRequest } from "@twilight/core";
import { FLEET_KEY_ID, FLEET_SECRET, json, type Stack, startStack, until } from "./testkit.js";

let s: Stack;
before(async () => {
  s = await startStack();
});
after(async () => {
  await s.close();
});

const order = (plan = "basic", user = "u-1001") =>
  json<{ order_id: string; out_trade_no: string; amount_fen: number; code_url: string; expires_at: string }>(
    fetch(`${s.url}/v1/orders`, { method: "POST", body: JSON.stringify({ user_id: user, plan, channel: `wxid_${user}` }) }),
  );
const view = (id: string) =>
  json<Record<string, unknown> & { status: string; connection: Record<string, string> | null }>(
    fetch(`${s.url}/v1/orders/${id}`),
  );
const pay = (no: string, opts: object = {}) => fetch(`${s.simUrl}/sim/pay/${no}`, { method: "POST", body: JSON.stringify(opts) });

test("plans and health", async () => {
  const p = await json<{ plans: { code: string; tier: string; price_fen: number }[] }>(fetch(`${s.url}/v1/plans`));
  assert.deepEqual(
    p.plans.map((x) => [x.code, x.tier]),
    [
      ["basic", "prefab"],
      ["pro", "prefab"],
      ["dedicated_pro", "container"],
    ],
  );
  assert.equal((await json(fetch(`${s.url}/health`))).status, "ok");
});

test("bad order input gets a clear error", async () => {
  const r = await fetch(`${s.url}/v1/orders`, {
    method: "POST",
    body: JSON.stringify({ user_id: "u1", plan: "gold", channel: "c" }),
  });
  assert.equal(r.status, 400);
  const e = (await r.json()) as { error: { code: string; hint: string } };
  assert.equal(e.error.code, "INPUT_INVALID");
  assert.match(e.error.hint, /basic, pro, dedicated_pro/);
  assert.equal((await fetch(`${s.url}/v1/orders/ord_nope`)).status, 404);
});

for (const [plan, tier] of [
  ["basic", "prefab"],
  ["dedicated_pro", "container"],
] as const) {
  test(`order ${plan} -> code_url -> pay -> verified notification -> provisioned as ${tier}; key shown once`, async () => {
    const o = await order(plan, `u-${plan}`);
    assert.match(o.code_url, /^weixin:\/\/wxpay\/bizpayurl\?pr=/);
    assert.equal(o.amount_fen, plan === "basic" ? 2900 : 29900);
    const page = await fetch(`${s.url}/checkout/${o.order_id}`);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await page.text(), /<svg[^>]*>.*<\/svg>/s);
    const before = s.fleet.calls.length;
    assert.equal((await pay(o.out_trade_no)).status, 200);
    const v = await until("provisioned", async () => {
      const x = await view(o.order_id);
      return x.status === "provisioned" && x;
    });
    assert.equal(s.fleet.calls.length, before + 1);
    const call = s.fleet.calls.at(-1);
    assert.ok(call);
    assert.equal(call.headers["idempotency-key"], o.order_id);
    assert.equal(call.body.tier, tier);
    assert.equal(call.body.plan, plan);
    assert.equal(call.body.user_id, `u-${plan}`);
    assert.equal(call.body.set.WEIXIN_HOME_CHANNEL, `wxid_u-${plan}`);
    assert.match(call.body.set.API_SERVER_KEY ?? "", /^hk_[A-Za-z0-9]{37}$/);
    assert.match(call.body.set.TWILIGHT_API_TOKEN ?? "", /^tw_[A-Za-z0-9_-]{40}$/);
    assert.match(call.body.set.SILICONFLOW_API_KEY ?? "", /^sk-[A-Za-z0-9]{45}$/);
    assert.equal(v.connection?.api_key, call.body.set.API_SERVER_KEY, "the user's key is shown");
    assert.match(v.connection?.api_base ?? "", /\/p\/tw-[0-9a-f]{16}\/v1$/);
    assert.equal(v.connection?.session_header, "X-Hermes-Session-Id");
    const again = await view(o.order_id);
    assert.equal(again.connection?.api_key, undefined, "shown once");
    assert.ok(again.connection?.api_base);
    const kinds = (again.events as { kind: string }[]).map((e) => e.kind);
    assert.deepEqual(kinds, ["created", "paid", "provisioned", "secrets_shown"]);
  });
}

test("10 concurrent duplicate notifications -> exactly one provisioning delivery", async () => {
  const o = await order("pro", "u-dup");
  const before = s.fleet.calls.length;
  await pay(o.out_trade_no, { duplicates: 10 });
  await until("provisioned", async () => (await view(o.order_id)).status === "provisioned");
  await s.sim.notifier.idle();
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(s.fleet.calls.filter((c) => c.body.user_id === "u-dup").length, 1);
  assert.equal(s.fleet.calls.length, before + 1);
  const sent = await json<{ notifications: { acknowledged: boolean }[] }>(
    fetch(`${s.simUrl}/sim/notifications?out_trade_no=${o.out_trade_no}`),
  );
  assert.equal(sent.notifications.length, 10);
  assert.ok(
    sent.notifications.every((n) => n.acknowledged),
    "duplicates are answered 204 too",
  );
  const m = await (await fetch(`${s.url}/metrics`)).text();
  assert.match(m, /billing_notifications_total\{result="duplicate",reason=""\} 9/);
});

test("fleet down while the payment arrives -> provisioned after it returns", async () => {
  await s.fleet.down();
  const o = await order("basic", "u-down");
  await pay(o.out_trade_no);
  await until("a retry", async () => {
    const v = await view(o.order_id);
    return ((v.delivery as { attempts: number } | null)?.attempts ?? 0) >= 2;
  });
  assert.notEqual((await view(o.order_id)).status, "provisioned");
  await s.fleet.up();
  const v = await until("provisioned", async () => {
    const x = await view(o.order_id);
    return x.status === "provisioned" && x;
  });
  assert.ok((v.events as { kind: string }[]).some((e) => e.kind === "provision_retry"));
});

test("dropped notification -> provisioned by reconciliation", async () => {
  const o = await order("basic", "u-drop");
  await pay(o.out_trade_no, { drop: true });
  await s.sim.notifier.idle();
  assert.equal((await view(o.order_id)).status, "created");
  const r = await s.billing.reconciler.run();
  assert.ok(r.paid >= 1);
  const v = await until("provisioned", async () => {
    const x = await view(o.order_id);
    return x.status === "provisioned" && x;
  });
  assert.ok(
    (v.events as { kind: string; detail: { via?: string } }[]).some((e) => e.kind === "paid" && e.detail.via === "reconcile"),
  );
});

test("an expired unpaid order is closed by reconciliation, at WeChat Pay too", async () => {
  const o = await order("basic", "u-exp");
  await s.billing.store.update(o.order_id, { expires_at: Date.now() - 1000 });
  await s.billing.reconciler.run();
  assert.equal((await view(o.order_id)).status, "expired");
  assert.equal((await s.billing.wechat.queryByOutTradeNo(o.out_trade_no))?.trade_state, "CLOSED");
});

test("a fleet that refuses (non-retryable) -> dead letter, order failed, shown in the order", async () => {
  s.fleet.failWith = 400;
  try {
    const o = await order("basic", "u-dead");
    await pay(o.out_trade_no);
    const v = await until("failed", async () => {
      const x = await view(o.order_id);
      return x.status === "failed" && x;
    });
    assert.deepEqual((v.delivery as { dead_letter: boolean }).dead_letter, true);
    assert.ok((v.events as { kind: string }[]).some((e) => e.kind === "dead_letter"));
    assert.match(String(v.last_error), /provisioning gave up/);
    assert.match(await (await fetch(`${s.url}/metrics`)).text(), /billing_outbox_dead_letters 1/);
  } finally {
    s.fleet.failWith = null;
  }
});

test("the fleet's HMAC check accepts what billing sends and nothing replayed", async () => {
  const call = s.fleet.calls[0];
  assert.ok(call);
  assert.equal(s.fleet.refused.length, 0);
  assert.throws(() =>
    verifyProvisionRequest({
      headers: call.headers,
      method: "PUT",
      path: `/v1/profiles/${call.name}`,
      body: JSON.stringify({ ...call.body, tier: "container" }),
      lookupSecret: (k) => (k === FLEET_KEY_ID ? FLEET_SECRET : undefined),
      now: Date.now() / 1000,
    }),
  );
});
