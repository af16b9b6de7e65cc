import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { json, type Stack, startStack, until } from "./testkit.js";

let s: Stack;
before(async () => {
  s = await startStack();
});
after(async () => {
  await s.close();
});

async function provisioned(user: string): Promise<{ order_id: string; out_trade_no: string; profile: string }> {
  const o = await json<{ order_id: string; out_trade_no: string }>(
    fetch(`${s.url}/v1/orders`, {
      method: "POST",
      body: JSON.stringify({ user_id: user, plan: "basic", channel: `wxid_${user}` }),
    }),
  );
  await fetch(`${s.simUrl}/sim/pay/${o.out_trade_no}`, { method: "POST", body: "{}" });
  const v = await until("provisioned", async () => {
    const x = await json<{ status: string; profile: string }>(fetch(`${s.url}/v1/orders/${o.order_id}`));
    return x.status === "provisioned" && x;
  });
  return { ...o, profile: v.profile };
}

const events = async (id: string) =>
  (await json<{ events: { kind: string }[] }>(fetch(`${s.url}/v1/orders/${id}`))).events.map((e) => e.kind);

test("period end + grace -> profile stopped (order expired); after retention -> deleted", async () => {
  const o = await provisioned("u-life");
  const row = await s.billing.store.getOrder(o.order_id);
  assert.ok(row?.period_end && row.period_end > Date.now() + 29 * 86_400_000, "a 30-day period from payment");
  assert.deepEqual(await s.billing.lifecycle.run(), { stopped: 0, purged: 0 }, "nothing to do inside the period");
  const day = 86_400_000;
  const r1 = await s.billing.lifecycle.run((row.period_end ?? 0) + 3 * day + 1000);
  assert.equal(r1.stopped, 1);
  await until("stop delivered", async () => s.fleet.actions.some((a) => a.name === o.profile && a.action === "stop"));
  assert.equal((await json<{ status: string }>(fetch(`${s.url}/v1/orders/${o.order_id}`))).status, "expired");
  assert.equal(s.fleet.actions.find((a) => a.name === o.profile)?.key, `${o.order_id}:stop`);
  const r2 = await s.billing.lifecycle.run((row.period_end ?? 0) + 34 * day);
  assert.equal(r2.purged, 1);
  await until("delete delivered", async () => s.fleet.actions.some((a) => a.name === o.profile && a.action === "delete"));
  assert.deepEqual((await s.billing.lifecycle.run((row.period_end ?? 0) + 35 * day)).purged, 0, "purged once");
  const kinds = await events(o.order_id);
  for (const k of ["period_ended", "profile_stopped", "retention_ended", "profile_deleted"]) assert.ok(kinds.includes(k), k);
});

test("a refund (REFUND.SUCCESS notification) stops the profile at once", async () => {
  const o = await provisioned("u-refund");
  await s.billing.wechat.refund({
    out_trade_no: o.out_trade_no,
    out_refund_no: `R${o.out_trade_no.slice(2, 30)}`,
    refund_fen: 2900,
    total_fen: 2900,
  });
  await until("refunded and stopped", async () => s.fleet.actions.some((a) => a.name === o.profile && a.action === "stop"));
  assert.equal((await json<{ status: string }>(fetch(`${s.url}/v1/orders/${o.order_id}`))).status, "refunded");
  assert.ok((await events(o.order_id)).includes("profile_stopped"));
});
