/** Billing's Prometheus metrics, one registry for the service. Label values are closed sets. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class BillingMetrics {
  readonly registry = new Registry();
  readonly notifications = new Counter({
    name: "billing_notifications_total",
    help: "WeChat Pay notifications by result (accepted, duplicate, ignored, refused) and refusal reason",
    labelNames: ["result", "reason"] as const,
    registers: [this.registry],
  });
  readonly orders = new Counter({
    name: "billing_orders_total",
    help: "Order state changes by status",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  readonly deliveries = new Counter({
    name: "billing_provision_deliveries_total",
    help: "Provisioning deliveries to the fleet by transport and result (ok, retry, dead)",
    labelNames: ["transport", "result"] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new Gauge({
    name: "billing_outbox_dead_letters",
    help: "Outbox rows that gave up after the maximum number of attempts (since start)",
    registers: [this.registry],
  });
  readonly paidToProvisioned = new Histogram({
    name: "billing_paid_to_provisioned_seconds",
    help: "From the verified payment to the fleet's answer",
    labelNames: ["tier"] as const,
    buckets: [0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly reconciled = new Counter({
    name: "billing_reconciled_total",
    help: "Orders changed by the reconciliation job, by outcome (paid, expired, closed)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  constructor(defaults = false) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: "billing_" });
  }
}
