/**
 * The outbox worker: delivers each row ("provision", "stop", "purge") to the fleet through the configured transport, with exponential
 * backoff (plus jitter) for retryable failures, and a dead letter after `maxAttempts` or a non-retryable answer
 * (order `failed`, a `dead_letter` event, a metric). A crashed worker's lease runs out and the row is retried.
 */
import { isDomainError, type Logger } from "@twilight/core";
import type { BillingMetrics } from "../metrics.js";
import type { OrderRow, OutboxRow, Store } from "../orders/store.js";
import { planOf } from "../plans.js";
import { type ProfileSecrets, unseal } from "../secrets.js";
import type { FleetTransport } from "./transport.js";

export interface WorkerOptions {
  store: Store;
  transport: FleetTransport;
  metrics: BillingMetrics;
  log: Logger;
  secret: string;
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  pollMs: number;
  leaseMs?: number;
  concurrency?: number;
}

export function backoffMs(attempt: number, base: number, max: number, rnd = Math.random): number {
  const d = Math.min(max, base * 2 ** Math.max(0, attempt - 1));
  return Math.round(d * (0.8 + 0.4 * rnd()));
}

export class ProvisioningWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  constructor(private readonly o: WorkerOptions) {}

  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.o.pollMs);
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  /** Runs a pass now (coalesced with one already running). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.tick()
      .catch((e) => this.o.log.error({ err: e }, "outbox pass failed"))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  async tick(): Promise<void> {
    await this.o.store.releaseExpiredLeases();
    const due = await this.o.store.dueOutbox(50);
    const conc = this.o.concurrency ?? 8;
    for (let i = 0; i < due.length; i += conc) {
      await Promise.all(due.slice(i, i + conc).map((row) => this.deliverOne(row)));
    }
  }

  private async deliverOne(row: OutboxRow): Promise<void> {
    if (!(await this.o.store.claimOutbox(row.id, this.o.leaseMs ?? 300_000))) return;
    const order = await this.o.store.getOrder(row.order_id);
    const attempt = row.attempts + 1;
    if (!order) {
      await this.o.store.settleOutbox(row.id, {
        status: "done",
        attempts: row.attempts,
        next_at: Date.now(),
        last_error: "order gone",
      });
      return;
    }
    try {
      if (row.kind === "provision") await this.provision(row, order, attempt);
      else await this.lifecycle(row, order, attempt);
    } catch (e) {
      await this.failed(row, order, attempt, e);
    }
  }

  private async provision(row: OutboxRow, order: OrderRow, attempt: number): Promise<void> {
    const { store, transport, metrics, log } = this.o;
    if (order.status === "refunded" || order.status === "provisioned") {
      await store.settleOutbox(row.id, { status: "done", attempts: row.attempts, next_at: Date.now(), last_error: null });
      return;
    }
    const plan = planOf(order.plan);
    const started = Date.now();
    await store.transition(store.db, order.id, ["paid"], "provisioning");
    if (!order.sealed_secrets) throw new Error("order has no sealed secrets");
    const secrets = JSON.parse(unseal(order.sealed_secrets, this.o.secret)) as ProfileSecrets;
    const res = await transport.provision({
      name: order.profile_name,
      tier: plan.tier,
      plan: plan.fleet_plan,
      user_id: order.user_id,
      set: { ...secrets, WEIXIN_HOME_CHANNEL: order.channel },
      idempotency_key: order.id,
    });
    const c = res.connection;
    const connection = {
      api_base: c.api_base,
      status_url: c.status_url,
      session_header: c.session_header,
      profile: res.profile.name,
    };
    await store.db.transaction().execute(async (trx) => {
      await store.transition(trx, order.id, ["provisioning", "paid", "failed"], "provisioned", {
        connection: JSON.stringify(connection),
        last_error: null,
        period_end: (order.paid_at ?? Date.now()) + plan.period_days * 86_400_000,
      });
      await store.addEvent(trx, order.id, "provisioned", { transport: transport.kind, created: res.created, attempt });
    });
    await store.settleOutbox(row.id, { status: "done", attempts: attempt, next_at: Date.now(), last_error: null });
    metrics.deliveries.inc({ transport: transport.kind, result: "ok" });
    metrics.orders.inc({ status: "provisioned" });
    metrics.paidToProvisioned.observe({ tier: plan.tier }, (Date.now() - (order.paid_at ?? started)) / 1000);
    log.info({ order_id: order.id, profile: order.profile_name, transport: transport.kind, attempt }, "profile provisioned");
  }

  /** `stop` (refund, end of period + grace) and `purge` (end of retention) rows. */
  private async lifecycle(row: OutboxRow, order: OrderRow, attempt: number): Promise<void> {
    const { store, transport, metrics, log } = this.o;
    const action = row.kind === "purge" ? "delete" : "stop";
    await transport.act({ name: order.profile_name, action, idempotency_key: `${order.id}:${action}` });
    await store.settleOutbox(row.id, { status: "done", attempts: attempt, next_at: Date.now(), last_error: null });
    await store.addEvent(store.db, order.id, action === "stop" ? "profile_stopped" : "profile_deleted", {
      transport: transport.kind,
      attempt,
    });
    metrics.deliveries.inc({ transport: transport.kind, result: "ok" });
    log.info({ order_id: order.id, profile: order.profile_name, action }, "profile lifecycle delivered");
  }

  private async failed(row: OutboxRow, order: OrderRow, attempt: number, e: unknown): Promise<void> {
    const { store, transport, metrics, log } = this.o;
    const msg = (e as Error).message.slice(0, 500);
    const retryable = isDomainError(e) ? e.retryable : true;
    const code = isDomainError(e) ? e.code : "INTERNAL";
    if (retryable && attempt < this.o.maxAttempts) {
      const next = Date.now() + backoffMs(attempt, this.o.baseDelayMs, this.o.maxDelayMs);
      await store.settleOutbox(row.id, { status: "pending", attempts: attempt, next_at: next, last_error: `${code}: ${msg}` });
      await store.addEvent(store.db, order.id, `${row.kind}_retry`, {
        attempt,
        code,
        error: msg,
        next_at: new Date(next).toISOString(),
      });
      metrics.deliveries.inc({ transport: transport.kind, result: "retry" });
      log.warn({ order_id: order.id, kind: row.kind, attempt, code, err: msg }, "fleet delivery failed; will retry");
      return;
    }
    await store.settleOutbox(row.id, { status: "dead", attempts: attempt, next_at: Date.now(), last_error: `${code}: ${msg}` });
    if (row.kind === "provision") {
      await store.transition(store.db, order.id, ["provisioning", "paid"], "failed", {
        last_error: `provisioning gave up: ${code}: ${msg}`,
      });
      metrics.orders.inc({ status: "failed" });
    }
    await store.addEvent(store.db, order.id, "dead_letter", { kind: row.kind, attempts: attempt, code, error: msg });
    metrics.deliveries.inc({ transport: transport.kind, result: "dead" });
    metrics.deadLetters.inc();
    log.error({ order_id: order.id, kind: row.kind, attempt, code, err: msg }, "fleet delivery dead-lettered");
  }
}
