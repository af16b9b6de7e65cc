/** The same paid -> provisioned path on real PostgreSQL (TWILIGHT_TEST_PG_URL; `scripts/lib/common.sh ensure_postgres`). */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import pg from "pg";
import { json, type Stack, startStack, until } from "../testkit.js";

const base = process.env.TWILIGHT_TEST_PG_URL;
const schema = `billing_test_${process.pid}`;
let s: Stack | undefined;

before(async () => {
  if (!base) return;
  const u = new URL(base);
  u.searchParams.set("schema", schema);
  s = await startStack({ dbUrl: u.toString() });
});
after(async () => {
  await s?.close();
  if (!base) return;
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
});

test(
  "PostgreSQL: 10 concurrent duplicate notifications and a reconciliation race -> one profile",
  { skip: !base && "TWILIGHT_TEST_PG_URL not set" },
  async () => {
    const st = s as Stack;
    const o = await json<{ order_id: string; out_trade_no: string }>(
      fetch(`${st.url}/v1/orders`, {
        method: "POST",
        body: JSON.stringify({ user_id: "u-pg", plan: "dedicated_pro", channel: "wxid_pg" }),
      }),
    );
    await fetch(`${st.simUrl}/sim/pay/${o.out_trade_no}`, { method: "POST", body: JSON.stringify({ duplicates: 10 }) });
    await Promise.all([st.billing.reconciler.run(), st.billing.reconciler.run()]);
    const v = await until("provisioned", async () => {
      const x = await json<{ status: string; events: { kind: string }[]; connection: { api_key?: string } }>(
        fetch(`${st.url}/v1/orders/${o.order_id}`),
      );
      return x.status === "provisioned" && x;
    });
    await st.sim.notifier.idle();
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(st.fleet.calls.length, 1);
    assert.equal(st.fleet.calls[0]?.body.tier, "container");
    assert.equal(v.events.filter((e) => e.kind === "paid").length, 1);
    assert.ok(v.connection.api_key);
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      const r = await c.query(`SELECT count(*)::int AS n FROM ${schema}.billing_outbox WHERE order_id = $1`, [o.order_id]);
      assert.equal(r.rows[0].n, 1);
    } finally {
      await c.end();
    }
  },
);
