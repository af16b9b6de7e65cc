/**
 * Orders: create a Native order at WeChat Pay, show an order (status, events, delivery, connection info shown once),
 * and the one "paid" transition shared by notifications and reconciliation: order paid + secrets sealed + outbox row,
 * in one transaction, exactly once per order.
 */
import { assertProfileName, InputInvalid, type Logger, NotFound } from "@twilight/core";
import type { BillingMetrics } from "../metrics.js";
import { type PlanCode, planOf } from "../plans.js";
import { generateProfileSecrets, seal, unseal } from "../secrets.js";
import type { WechatPayClient } from "../wechatpay/client.js";
import { rfc3339Beijing, type Transaction } from "../wechatpay/protocol.js";
import { newId, type OrderRow, type Store } from "./store.js";

export interface OrdersDeps {
  store: Store;
  wechat: WechatPayClient;
  metrics: BillingMetrics;
  log: Logger;
  notifyUrl: string;
  orderTtlS: number;
  secret: string;
  tokenGraceDays: number;
  mchid: string;
  appid: string;
  kickOutbox?: () => void;
}

const USER_RE = /^[A-Za-z0-9._@:-]{1,128}$/;
const CHANNEL_RE = /^[A-Za-z0-9@._:-]{1,128}$/;

export type PaidResult = "accepted" | "duplicate";
export type CheckReason = "mchid_mismatch" | "appid_mismatch" | "amount_mismatch" | "currency_mismatch";

export class OrdersService {
  constructor(private readonly d: OrdersDeps) {}

  async create(
    input: unknown,
  ): Promise<{ order_id: string; out_trade_no: string; amount_fen: number; code_url: string; expires_at: string }> {
    const b = (input ?? {}) as Record<string, unknown>;
    const plan = planOf(b.plan);
    if (typeof b.user_id !== "string" || !USER_RE.test(b.user_id)) {
      throw new InputInvalid("user_id must be 1-128 chars of [A-Za-z0-9._@:-]");
    }
    if (typeof b.channel !== "string" || !CHANNEL_RE.test(b.channel)) {
      throw new InputInvalid("channel (the WeChat home channel) must be 1-128 chars of [A-Za-z0-9@._:-]");
    }
    const now = Date.now();
    const id = newId("ord");
    const row: OrderRow = {
      id,
      out_trade_no: `TW${now}${id.slice(4, 16)}`,
      user_id: b.user_id,
      plan: plan.code,
      channel: b.channel,
      amount_fen: plan.price_fen,
      status: "created",
      code_url: null,
      profile_name: assertProfileName(`tw-${id.slice(4, 20)}`),
      transaction_id: null,
      expires_at: now + this.d.orderTtlS * 1000,
      created_at: now,
      updated_at: now,
      paid_at: null,
      period_end: null,
      connection: null,
      sealed_secrets: null,
      last_error: null,
    };
    await this.d.store.insertOrder(row);
    await this.d.store.addEvent(this.d.store.db, id, "created", { plan: plan.code, amount_fen: plan.price_fen });
    try {
      const { code_url } = await this.d.wechat.createNative({
        description: plan.title,
        out_trade_no: row.out_trade_no,
        notify_url: this.d.notifyUrl,
        amount_fen: plan.price_fen,
        time_expire: rfc3339Beijing(row.expires_at),
        attach: id,
      });
      await this.d.store.update(id, { code_url });
      this.d.metrics.orders.inc({ status: "created" });
      return {
        order_id: id,
        out_trade_no: row.out_trade_no,
        amount_fen: row.amount_fen,
        code_url,
        expires_at: new Date(row.expires_at).toISOString(),
      };
    } catch (e) {
      await this.d.store.transition(this.d.store.db, id, ["created"], "failed", {
        last_error: (e as Error).message.slice(0, 500),
      });
      await this.d.store.addEvent(this.d.store.db, id, "create_failed", { error: (e as Error).message.slice(0, 200) });
      throw e;
    }
  }

  /** Mismatch between what WeChat Pay says was paid and what we sold, or null. */
  check(order: OrderRow, t: Partial<Transaction>): CheckReason | null {
    if (t.mchid !== this.d.mchid) return "mchid_mismatch";
    if (t.appid !== this.d.appid) return "appid_mismatch";
    if (t.amount?.currency !== "CNY") return "currency_mismatch";
    if (t.amount?.total !== order.amount_fen) return "amount_mismatch";
    return null;
  }

  /** The single paid transition. Idempotent on the notification id and on the order. */
  async applyPaid(
    order: OrderRow,
    t: Transaction,
    via: { notificationId?: string; source: "notify" | "reconcile" },
  ): Promise<PaidResult> {
    const plan = planOf(order.plan);
    const result = await this.d.store.db.transaction().execute(async (trx) => {
      if (
        via.notificationId &&
        !(await this.d.store.recordNotification(trx, via.notificationId, order.id, "TRANSACTION.SUCCESS"))
      ) {
        return "duplicate" as const;
      }
      const secrets = generateProfileSecrets({
        userId: order.user_id,
        tokenSecret: this.d.secret,
        ttlS: (plan.period_days + this.d.tokenGraceDays) * 86_400,
      });
      const moved = await this.d.store.transition(trx, order.id, ["created", "expired"], "paid", {
        transaction_id: t.transaction_id ?? null,
        paid_at: Date.now(),
        sealed_secrets: seal(JSON.stringify(secrets), this.d.secret),
      });
      if (!moved) return "duplicate" as const;
      await this.d.store.addEvent(trx, order.id, "paid", { transaction_id: t.transaction_id, via: via.source });
      await this.d.store.enqueue(trx, order.id, "provision", {
        profile: order.profile_name,
        tier: plan.tier,
        plan: plan.fleet_plan,
      });
      return "accepted" as const;
    });
    if (result === "accepted") {
      this.d.metrics.orders.inc({ status: "paid" });
      this.d.log.info({ order_id: order.id, via: via.source }, "order paid; provisioning queued");
      this.d.kickOutbox?.();
    }
    return result;
  }

  /** The order as its payer sees it. Connection secrets appear in exactly one answer, then are forgotten. */
  async view(id: string): Promise<Record<string, unknown>> {
    const o = await this.d.store.getOrder(id);
    if (!o) throw new NotFound("order", id);
    const plan = planOf(o.plan);
    const outbox = (await this.d.store.outboxFor(id)).find((r) => r.kind === "provision");
    let connection: Record<string, unknown> | null = o.connection ? (JSON.parse(o.connection) as Record<string, unknown>) : null;
    if (connection && o.status === "provisioned" && o.sealed_secrets) {
      const s = JSON.parse(unseal(o.sealed_secrets, this.d.secret)) as { API_SERVER_KEY: string; TWILIGHT_API_TOKEN: string };
      const r = await this.d.store.db
        .updateTable("billing_orders")
        .set({ sealed_secrets: null })
        .where("id", "=", id)
        .where("sealed_secrets", "=", o.sealed_secrets)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) {
        connection = { ...connection, api_key: s.API_SERVER_KEY, twilight_api_token: s.TWILIGHT_API_TOKEN, shown_once: true };
        await this.d.store.addEvent(this.d.store.db, id, "secrets_shown");
      }
    }
    return {
      order_id: o.id,
      out_trade_no: o.out_trade_no,
      user_id: o.user_id,
      plan: o.plan as PlanCode,
      tier: plan.tier,
      amount_fen: o.amount_fen,
      status: o.status,
      code_url: o.status === "created" ? o.code_url : null,
      expires_at: new Date(o.expires_at).toISOString(),
      profile: o.profile_name,
      last_error: o.last_error,
      delivery: outbox
        ? {
            status: outbox.status,
            attempts: Number(outbox.attempts),
            last_error: outbox.last_error,
            dead_letter: outbox.status === "dead",
          }
        : null,
      connection,
      events: await this.d.store.events(id),
    };
  }
}
