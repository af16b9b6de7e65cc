/**
 * The simulator's notification sender: signs each notification with the platform key, POSTs it to the merchant's
 * notify_url with a 5 s deadline, and on anything but 2xx retries on WeChat Pay's schedule divided by `timeScale`.
 * Every attempt and answer is recorded for `GET /sim/notifications`.
 */

import type { KeyObject } from "node:crypto";
import { randomUUID } from "node:crypto";
import { encryptResource, type NotificationBody, rfc3339Beijing, signedHeaders } from "../wechatpay/protocol.js";

/** Seconds between attempts after a non-2xx answer (15 retries, about 24 h 4 min in all). */
export const RETRY_SCHEDULE_S = [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

export interface Attempt {
  at: string;
  status: number | null;
  body: string;
  /** How long the merchant took to answer. */
  ms?: number;
  error?: string;
}

export interface SentNotification {
  id: string;
  kind: "payment" | "refund" | "probe";
  out_trade_no: string | null;
  notify_url: string;
  event_type: string;
  copy: number;
  dropped: boolean;
  acknowledged: boolean;
  attempts: Attempt[];
}

export interface Signer {
  serial: string;
  key: KeyObject;
}

export interface NotifierOptions {
  apiV3Key: string;
  signer: () => Signer;
  /** Divide every retry delay by this (e.g. 1000: 15 s becomes 15 ms). */
  timeScale: number;
  timeoutMs?: number;
}

export class Notifier {
  readonly sent: SentNotification[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly o: NotifierOptions) {}

  /** Builds one encrypted notification (same id for every copy) and sends `copies` of it concurrently. */
  notify(p: {
    kind: SentNotification["kind"];
    eventType: string;
    summary: string;
    originalType: string;
    plaintext: object;
    notifyUrl: string;
    outTradeNo: string;
    copies?: number;
    drop?: boolean;
    delayMs?: number;
  }): SentNotification[] {
    const id = randomUUID();
    const body: NotificationBody = {
      id,
      create_time: rfc3339Beijing(Date.now()),
      resource_type: "encrypt-resource",
      event_type: p.eventType,
      summary: p.summary,
      resource: {
        original_type: p.originalType,
        ...encryptResource(JSON.stringify(p.plaintext), this.o.apiV3Key, p.originalType),
      },
    };
    const raw = JSON.stringify(body);
    const out: SentNotification[] = [];
    for (let copy = 0; copy < Math.max(1, p.copies ?? 1); copy++) {
      const rec: SentNotification = {
        id,
        kind: p.kind,
        out_trade_no: p.outTradeNo,
        notify_url: p.notifyUrl,
        event_type: p.eventType,
        copy,
        dropped: Boolean(p.drop),
        acknowledged: false,
        attempts: [],
      };
      this.sent.push(rec);
      out.push(rec);
      if (!p.drop) this.later(p.delayMs ?? 0, () => this.attempt(rec, raw, 0, false));
    }
    return out;
  }

  /** A notification with a wrong signature, as WeChat Pay sends now and then to test merchants. Never retried. */
  probe(notifyUrl: string): SentNotification {
    const rec: SentNotification = {
      id: randomUUID(),
      kind: "probe",
      out_trade_no: null,
      notify_url: notifyUrl,
      event_type: "TRANSACTION.SUCCESS",
      copy: 0,
      dropped: false,
      acknowledged: false,
      attempts: [],
    };
    this.sent.push(rec);
    const raw = JSON.stringify({
      id: rec.id,
      create_time: rfc3339Beijing(Date.now()),
      resource_type: "encrypt-resource",
      event_type: "TRANSACTION.SUCCESS",
      summary: "支付成功",
      resource: { original_type: "transaction", ...encryptResource("{}", this.o.apiV3Key, "transaction") },
    });
    this.later(0, () => this.attempt(rec, raw, 0, true));
    return rec;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Resolves when no delivery is pending (or after `timeoutMs`). */
  async idle(timeoutMs = 10_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while ((this.timers.size > 0 || this.inflight > 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  private inflight = 0;

  private later(ms: number, fn: () => Promise<void>): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    this.timers.add(t);
  }

  private async attempt(rec: SentNotification, raw: string, n: number, probe: boolean): Promise<void> {
    if (this.stopped) return;
    const signer = this.o.signer();
    const headers = signedHeaders(raw, signer.serial, signer.key);
    if (probe) headers["Wechatpay-Signature"] = Buffer.from(`probe-${randomUUID()}`).toString("base64");
    const a: Attempt = { at: new Date().toISOString(), status: null, body: "" };
    rec.attempts.push(a);
    this.inflight++;
    const t0 = performance.now();
    try {
      const res = await fetch(rec.notify_url, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: raw,
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000),
      });
      a.status = res.status;
      a.body = (await res.text()).slice(0, 500);
      a.ms = Math.round(performance.now() - t0);
    } catch (e) {
      a.error = (e as Error).message;
    } finally {
      this.inflight--;
    }
    if (a.status !== null && a.status >= 200 && a.status < 300) {
      rec.acknowledged = true;
      return;
    }
    const wait = RETRY_SCHEDULE_S[n];
    if (probe || wait === undefined) return;
    this.later((wait * 1000) / this.o.timeScale, () => this.attempt(rec, raw, n + 1, false));
  }
}
