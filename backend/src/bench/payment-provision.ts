#!/usr/bin/env node
/**
 * Bench: WeChat Pay notification -> profile provisioned, p50/p95 per tier, and N concurrent paid orders all
 * provisioned. Real processes on loopback: the simulator, the billing service (SQLite), and a fleet: by default the
 * HMAC-checking stand-in (billing's own overhead), or a real fleet with --fleet-url/--key-id/--secret-file.
 * Usage: node backend/dist/bench/payment-provision.js [--runs 10] [--concurrent 50] [--fleet-url URL --key-id K --secret-file F]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { HttpFleetTransport } from "../provisioning/http.js";
import { json, startStack, until } from "../testkit.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10" },
    concurrent: { type: "string", default: "50" },
    "fleet-url": { type: "string" },
    "key-id": { type: "string" },
    "secret-file": { type: "string" },
  },
});
const transport = values["fleet-url"]
  ? new HttpFleetTransport({
      fleetUrl: values["fleet-url"],
      keyId: values["key-id"] ?? "billing",
      secret: readFileSync(values["secret-file"] ?? "", "utf8").trim(),
    })
  : undefined;
const s = await startStack({ ...(transport ? { transport } : {}), env: { OUTBOX_POLL_MS: "1000" } });
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;

async function paidToProvisioned(plan: string, user: string): Promise<number> {
  const o = await json<{ order_id: string; out_trade_no: string }>(
    fetch(`${s.url}/v1/orders`, { method: "POST", body: JSON.stringify({ user_id: user, plan, channel: `wxid_${user}` }) }),
  );
  const t0 = performance.now();
  await fetch(`${s.simUrl}/sim/pay/${o.out_trade_no}`, { method: "POST", body: "{}" });
  await until("provisioned", async () => (await s.billing.store.getOrder(o.order_id))?.status === "provisioned", 120_000);
  return performance.now() - t0;
}

const out: Record<string, unknown> = { fleet: values["fleet-url"] ?? "stand-in (instant answer)" };
try {
  for (const [plan, tier] of [
    ["basic", "prefab"],
    ["dedicated_pro", "container"],
  ] as const) {
    const xs: number[] = [];
    for (let i = 0; i < Number(values.runs); i++) xs.push(await paidToProvisioned(plan, `bench-${tier}-${process.pid}-${i}`));
    out[`${tier}_notification_to_provisioned_ms`] = {
      p50: Math.round(pct(xs, 50)),
      p95: Math.round(pct(xs, 95)),
      runs: xs.length,
    };
  }
  const n = Number(values.concurrent);
  const t0 = performance.now();
  const all = await Promise.all(
    Array.from({ length: n }, (_, i) => paidToProvisioned("basic", `bench-conc-${process.pid}-${i}`)),
  );
  out[`concurrent_${n}_all_provisioned_s`] = Number(((performance.now() - t0) / 1000).toFixed(2));
  out[`concurrent_${n}_per_order_p95_ms`] = Math.round(pct(all, 95));
  const answers = s.sim.notifier.sent.flatMap((n) => n.attempts.map((a) => a.ms ?? Number.NaN)).filter((x) => Number.isFinite(x));
  out.notify_answer_ms = {
    p50: pct(answers, 50),
    p95: pct(answers, 95),
    max: Math.max(...answers),
    n: answers.length,
    limit: 5000,
  };
  out.goals = "p50 <= 1.5 s prefab, <= 2.5 s container; 50 concurrent <= 60 s; notify answered < 5 s";
} finally {
  await s.close();
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
