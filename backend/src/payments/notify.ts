/**
 * `POST /v1/payments/wechat/notify`: verify (payments/verify.ts), refuse replayed nonces, check the transaction against
 * the order, then the one paid transition. Answers 204, or 4xx/5xx with `{"code":"FAIL","message":...}`. Every refusal
 * is logged with its reason and counted; probes (bad signatures) are refused like any forgery and never throw.
 */
import type { Logger } from "@twilight/core";
import type { BillingMetrics } from "../metrics.js";
import type { OrdersService } from "../orders/service.js";
import type { Store } from "../orders/store.js";
import type { PlatformKeys } from "../wechatpay/platform-keys.js";
import type { NotificationBody, Transaction } from "../wechatpay/protocol.js";
import { type HeaderBag, NotifyRefused, verifyNotification } from "./verify.js";

export interface NotifyDeps {
  store: Store;
  orders: OrdersService;
  keys: PlatformKeys;
  apiV3Key: string;
  mchid: string;
  metrics: BillingMetrics;
  log: Logger;
}

export interface NotifyAnswer {
  status: number;
  body?: { code: "FAIL"; message: string };
}

export class NotifyHandler {
  constructor(private readonly d: NotifyDeps) {}

  /** A refusal that happened before the handler saw the body (oversized): counted the same way. */
  refuse(reason: "oversized", message: string): NotifyAnswer {
    this.d.metrics.notifications.inc({ result: "refused", reason });
    this.d.log.warn({ reason }, `wechat notification refused: ${message}`);
    return { status: 413, body: { code: "FAIL", message } };
  }

  async handle(headers: HeaderBag, raw: string): Promise<NotifyAnswer> {
    try {
      const result = await this.process(headers, raw);
      this.d.metrics.notifications.inc({ result, reason: "" });
      return { status: 204 };
    } catch (e) {
      const r = e instanceof NotifyRefused ? e : new NotifyRefused("internal", 500, "internal error");
      if (!(e instanceof NotifyRefused)) this.d.log.error({ err: e }, "wechat notification failed");
      this.d.metrics.notifications.inc({ result: "refused", reason: r.reason });
      this.d.log.warn(
        { reason: r.reason, serial: String(headers["wechatpay-serial"] ?? "").slice(0, 64) },
        `wechat notification refused: ${r.message}`,
      );
      return { status: r.status, body: { code: "FAIL", message: r.message } };
    }
  }

  private async process(headers: HeaderBag, raw: string): Promise<"accepted" | "duplicate" | "ignored"> {
    const v = verifyNotification({
      headers,
      raw,
      keys: this.d.keys,
      apiV3Key: this.d.apiV3Key,
      nowS: Math.floor(Date.now() / 1000),
    });
    if (!(await this.d.store.useNonce(v.nonce, 15 * 60_000)))
      throw new NotifyRefused("replayed_nonce", 401, "Wechatpay-Nonce already used");
    try {
      return await this.apply(v.parse());
    } catch (e) {
      if (!(e instanceof NotifyRefused)) await this.d.store.forgetNonce(v.nonce).catch(() => undefined);
      throw e;
    }
  }

  private async apply({
    body,
    plaintext,
  }: {
    body: NotificationBody;
    plaintext: Record<string, unknown>;
  }): Promise<"accepted" | "duplicate" | "ignored"> {
    if (body.event_type.startsWith("REFUND.")) return this.refund(body.id, body.event_type, plaintext);
    if (body.event_type !== "TRANSACTION.SUCCESS") return "ignored";
    const t = plaintext as unknown as Transaction;
    if (typeof t.out_trade_no !== "string") throw new NotifyRefused("malformed_json", 400, "transaction has no out_trade_no");
    const order = await this.d.store.getByOutTradeNo(t.out_trade_no);
    if (!order) throw new NotifyRefused("unknown_order", 404, "unknown out_trade_no");
    const bad = this.d.orders.check(order, t);
    if (bad) {
      await this.d.store.addEvent(this.d.store.db, order.id, "notification_refused", { reason: bad });
      throw new NotifyRefused(bad, 400, `transaction does not match the order (${bad})`);
    }
    if (t.trade_state !== "SUCCESS") return "ignored";
    return this.d.orders.applyPaid(order, t, { notificationId: body.id, source: "notify" });
  }

  private async refund(id: string, eventType: string, p: Record<string, unknown>): Promise<"accepted" | "duplicate" | "ignored"> {
    const order = typeof p.out_trade_no === "string" ? await this.d.store.getByOutTradeNo(p.out_trade_no) : undefined;
    if (!order) throw new NotifyRefused("unknown_order", 404, "unknown out_trade_no");
    if (p.mchid !== this.d.mchid) {
      throw new NotifyRefused("mchid_mismatch", 400, "refund for another merchant");
    }
    if (eventType !== "REFUND.SUCCESS") return "ignored";
    return this.d.store.db.transaction().execute(async (trx) => {
      if (!(await this.d.store.recordNotification(trx, id, order.id, eventType))) return "duplicate" as const;
      await this.d.store.transition(trx, order.id, ["paid", "provisioning", "provisioned", "failed", "expired"], "refunded");
      await this.d.store.addEvent(trx, order.id, "refunded", { refund_id: p.refund_id });
      await this.d.store.enqueue(trx, order.id, "stop", { profile: order.profile_name, reason: "refund" });
      return "accepted" as const;
    });
  }
}
