/**
 * Subscription lifecycle: a period ends -> grace -> the profile is stopped (order `expired`) -> after retention it is
 * deleted. A refund stops it at once (payments/notify.ts). Each step is an outbox row, delivered like provisioning.
 * Renewal (a new order extending the same profile) is not built yet.
 */
import type { Logger } from "@twilight/core";
import type { Store } from "./orders/store.js";

export interface LifecycleOptions {
  store: Store;
  log: Logger;
  graceDays: number;
  retentionDays: number;
  kickOutbox?: () => void;
}

const DAY = 86_400_000;

export class Lifecycle {
  constructor(private readonly o: LifecycleOptions) {}

  async run(now = Date.now()): Promise<{ stopped: number; purged: number }> {
    const { store, log } = this.o;
    let stopped = 0;
    let purged = 0;
    for (const order of await store.periodEnded("provisioned", now - this.o.graceDays * DAY, "stop", 100)) {
      const moved = await store.db.transaction().execute(async (trx) => {
        if (!(await store.transition(trx, order.id, ["provisioned"], "expired"))) return false;
        await store.addEvent(trx, order.id, "period_ended", { period_end: new Date(order.period_end ?? 0).toISOString() });
        await store.enqueue(trx, order.id, "stop", { profile: order.profile_name, reason: "period_ended" });
        return true;
      });
      if (moved) stopped++;
    }
    const purgeBefore = now - (this.o.graceDays + this.o.retentionDays) * DAY;
    for (const status of ["expired", "refunded"] as const) {
      for (const order of await store.periodEnded(status, purgeBefore, "purge", 100)) {
        await store.db.transaction().execute(async (trx) => {
          await store.addEvent(trx, order.id, "retention_ended");
          await store.enqueue(trx, order.id, "purge", { profile: order.profile_name });
        });
        purged++;
      }
    }
    if (stopped || purged) {
      log.info({ stopped, purged }, "lifecycle pass queued fleet work");
      this.o.kickOutbox?.();
    }
    return { stopped, purged };
  }
}
