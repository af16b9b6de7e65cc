/** Every query billing makes, on Kysely (SQLite or PostgreSQL). Services call these; nothing else writes SQL. */
import { randomBytes } from "node:crypto";
import type { Transaction } from "kysely";
import type { DB, Db, OrdersTable, OutboxTable } from "../db/database.js";

export type OrderStatus = "created" | "paid" | "provisioning" | "provisioned" | "failed" | "closed" | "refunded" | "expired";
export type OrderRow = OrdersTable;
export type OutboxRow = OutboxTable;
type Q = Db | Transaction<DB>;

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(10).toString("hex")}`;
}

/** Ordered ids for append-only rows: time first so a text sort is chronological. */
function eventId(at: number): string {
  return `${at.toString(36).padStart(9, "0")}${randomBytes(6).toString("hex")}`;
}

const num = <T extends Record<string, unknown>>(row: T, keys: (keyof T)[]): T => {
  for (const k of keys)
    if (row[k] !== null && row[k] !== undefined) (row as Record<string, unknown>)[k as string] = Number(row[k]);
  return row;
};
const orderNums: (keyof OrderRow)[] = ["amount_fen", "expires_at", "created_at", "updated_at", "paid_at", "period_end"];

export class Store {
  constructor(readonly db: Db) {}

  async insertOrder(row: OrderRow): Promise<void> {
    await this.db.insertInto("billing_orders").values(row).execute();
  }

  async getOrder(id: string, q: Q = this.db): Promise<OrderRow | undefined> {
    const r = await q.selectFrom("billing_orders").selectAll().where("id", "=", id).executeTakeFirst();
    return r && num(r, orderNums);
  }

  async getByOutTradeNo(no: string, q: Q = this.db): Promise<OrderRow | undefined> {
    const r = await q.selectFrom("billing_orders").selectAll().where("out_trade_no", "=", no).executeTakeFirst();
    return r && num(r, orderNums);
  }

  /** Moves an order from one of `from` to `to`; returns false when another writer got there first. */
  async transition(q: Q, id: string, from: OrderStatus[], to: OrderStatus, set: Partial<OrderRow> = {}): Promise<boolean> {
    const r = await q
      .updateTable("billing_orders")
      .set({ ...set, status: to, updated_at: Date.now() })
      .where("id", "=", id)
      .where("status", "in", from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async update(id: string, set: Partial<OrderRow>, q: Q = this.db): Promise<void> {
    await q
      .updateTable("billing_orders")
      .set({ ...set, updated_at: Date.now() })
      .where("id", "=", id)
      .execute();
  }

  async addEvent(q: Q, orderId: string, kind: string, detail?: Record<string, unknown>): Promise<void> {
    const at = Date.now();
    await q
      .insertInto("billing_order_events")
      .values({ id: eventId(at), order_id: orderId, at, kind, detail: detail ? JSON.stringify(detail) : null })
      .execute();
  }

  async events(orderId: string): Promise<{ at: string; kind: string; detail: unknown }[]> {
    const rows = await this.db
      .selectFrom("billing_order_events")
      .selectAll()
      .where("order_id", "=", orderId)
      .orderBy("id")
      .execute();
    return rows.map((r) => ({
      at: new Date(Number(r.at)).toISOString(),
      kind: r.kind,
      detail: r.detail ? JSON.parse(r.detail) : null,
    }));
  }

  /** Records a notification id; false when it was seen before (a duplicate). */
  async recordNotification(q: Q, id: string, orderId: string, eventType: string): Promise<boolean> {
    const r = await q
      .insertInto("billing_notifications")
      .values({ id, order_id: orderId, event_type: eventType, received_at: Date.now() })
      .onConflict((oc) => oc.column("id").doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Remembers a notification nonce; false when it was already used (a replay). Forgets nonces older than `keepMs`. */
  async useNonce(nonce: string, keepMs: number): Promise<boolean> {
    const now = Date.now();
    await this.db
      .deleteFrom("billing_notify_nonces")
      .where("seen_at", "<", now - keepMs)
      .execute();
    const r = await this.db
      .insertInto("billing_notify_nonces")
      .values({ nonce, seen_at: now })
      .onConflict((oc) => oc.column("nonce").doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** Forgets a nonce whose notification failed on our side (5xx), so WeChat's retry of it is not taken for a replay. */
  async forgetNonce(nonce: string): Promise<void> {
    await this.db.deleteFrom("billing_notify_nonces").where("nonce", "=", nonce).execute();
  }

  async enqueue(q: Q, orderId: string, kind: string, payload: object): Promise<void> {
    const now = Date.now();
    await q
      .insertInto("billing_outbox")
      .values({
        id: newId("obx"),
        order_id: orderId,
        kind,
        payload: JSON.stringify(payload),
        status: "pending",
        attempts: 0,
        next_at: now,
        last_error: null,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(["order_id", "kind"]).doNothing())
      .execute();
  }

  async dueOutbox(limit: number): Promise<OutboxRow[]> {
    const rows = await this.db
      .selectFrom("billing_outbox")
      .selectAll()
      .where("status", "=", "pending")
      .where("next_at", "<=", Date.now())
      .orderBy("next_at")
      .limit(limit)
      .execute();
    return rows.map((r) => num(r, ["attempts", "next_at", "created_at", "updated_at"]));
  }

  /** Claims a due row for `leaseMs` (pending -> running); false when another worker has it. */
  async claimOutbox(id: string, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    const r = await this.db
      .updateTable("billing_outbox")
      .set({ status: "running", next_at: now + leaseMs, updated_at: now })
      .where("id", "=", id)
      .where("status", "=", "pending")
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async settleOutbox(id: string, set: Pick<OutboxRow, "status" | "attempts" | "next_at" | "last_error">): Promise<void> {
    await this.db
      .updateTable("billing_outbox")
      .set({ ...set, updated_at: Date.now() })
      .where("id", "=", id)
      .execute();
  }

  /** Running rows whose lease ran out (a crashed worker) go back to pending. */
  async releaseExpiredLeases(): Promise<void> {
    await this.db
      .updateTable("billing_outbox")
      .set({ status: "pending" })
      .where("status", "=", "running")
      .where("next_at", "<", Date.now())
      .execute();
  }

  async outboxFor(orderId: string): Promise<OutboxRow[]> {
    return this.db.selectFrom("billing_outbox").selectAll().where("order_id", "=", orderId).execute();
  }

  /** Orders in `status` whose paid period ended before `before`, without an outbox row of `kind` yet. */
  async periodEnded(status: OrderStatus, before: number, kind: string, limit: number): Promise<OrderRow[]> {
    const rows = await this.db
      .selectFrom("billing_orders")
      .selectAll()
      .where("status", "=", status)
      .where("period_end", "is not", null)
      .where("period_end", "<", before)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("billing_outbox")
              .select("billing_outbox.id")
              .whereRef("billing_outbox.order_id", "=", "billing_orders.id")
              .where("billing_outbox.kind", "=", kind),
          ),
        ),
      )
      .limit(limit)
      .execute();
    return rows.map((r) => num(r, orderNums));
  }

  async ordersInStatus(status: OrderStatus, createdBefore: number, limit: number): Promise<OrderRow[]> {
    const rows = await this.db
      .selectFrom("billing_orders")
      .selectAll()
      .where("status", "=", status)
      .where("created_at", "<=", createdBefore)
      .orderBy("created_at")
      .limit(limit)
      .execute();
    return rows.map((r) => num(r, orderNums));
  }
}
