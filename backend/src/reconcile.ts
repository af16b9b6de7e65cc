/**
 * Reconciliation: orders still `created` after a while are queried at WeChat Pay (a notification may have been lost):
 * paid ones go through the same paid transition as a notification; expired unpaid ones are closed at WeChat Pay and
 * marked `expired`; ones WeChat Pay closed are marked `closed`.
 */
import type { Logger } from "@twilight/core";
import type { BillingMetrics } from "./metrics.js";
import type { OrdersService } from "./orders/service.js";
import type { Store } from "./orders/store.js";
import type { WechatPayClient } from "./wechatpay/client.js";

export interface ReconcileOptions {
  store: Store;
  orders: OrdersService;
  wechat: WechatPayClient;
  metrics: BillingMetrics;
  log: Logger;
  /** Query orders unpaid for at least this long. */
  unpaidAfterS: number;
  intervalS: number;
}

export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly o: ReconcileOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.run(), this.o.intervalS * 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One pass; returns what changed. */
  async run(): Promise<{ paid: number; expired: number; closed: number }> {
    const out = { paid: 0, expired: 0, closed: 0 };
    if (this.busy) return out;
    this.busy = true;
    const { store, wechat, log, metrics } = this.o;
    try {
      const rows = await store.ordersInStatus("created", Date.now() - this.o.unpaidAfterS * 1000, 100);
      for (const order of rows) {
        try {
          const t = await wechat.queryByOutTradeNo(order.out_trade_no);
          if (t?.trade_state === "SUCCESS") {
            const bad = this.o.orders.check(order, t);
            if (bad) {
              await store.addEvent(store.db, order.id, "reconcile_mismatch", { reason: bad });
              log.warn({ order_id: order.id, reason: bad }, "reconciliation: paid transaction does not match the order");
              continue;
            }
            if ((await this.o.orders.applyPaid(order, t, { source: "reconcile" })) === "accepted") {
              out.paid++;
              metrics.reconciled.inc({ outcome: "paid" });
            }
          } else if (t?.trade_state === "CLOSED") {
            if (await store.transition(store.db, order.id, ["created"], "closed")) {
              await store.addEvent(store.db, order.id, "closed", { via: "reconcile" });
              out.closed++;
              metrics.reconciled.inc({ outcome: "closed" });
            }
          } else if (order.expires_at < Date.now()) {
            if (t) await wechat.close(order.out_trade_no);
            if (await store.transition(store.db, order.id, ["created"], "expired")) {
              await store.addEvent(store.db, order.id, "expired", { via: "reconcile" });
              out.expired++;
              metrics.reconciled.inc({ outcome: "expired" });
            }
          }
        } catch (e) {
          log.warn({ order_id: order.id, err: (e as Error).message }, "reconciliation query failed; next pass retries");
        }
      }
    } finally {
      this.busy = false;
    }
    return out;
  }
}
