/**
 * Composition root of the billing domain (no HTTP here): database, WeChat Pay client and keys, orders, notification
 * handler, fleet transport (chosen here and only here), outbox worker and reconciler. Nest controllers call into it.
 */
import { createLogger, type Logger } from "@twilight/core";
import type { BillingConfig } from "./config.js";
import { type Db, migrate, openDatabase } from "./db/database.js";
import { Lifecycle } from "./lifecycle.js";
import { BillingMetrics } from "./metrics.js";
import { OrdersService } from "./orders/service.js";
import { Store } from "./orders/store.js";
import { NotifyHandler } from "./payments/notify.js";
import { HttpFleetTransport } from "./provisioning/http.js";
import { SshFleetTransport } from "./provisioning/ssh.js";
import type { FleetTransport } from "./provisioning/transport.js";
import { ProvisioningWorker } from "./provisioning/worker.js";
import { Reconciler } from "./reconcile.js";
import { WechatPayClient } from "./wechatpay/client.js";
import { PlatformKeys } from "./wechatpay/platform-keys.js";

export interface Billing {
  cfg: BillingConfig;
  db: Db;
  store: Store;
  log: Logger;
  metrics: BillingMetrics;
  wechat: WechatPayClient;
  orders: OrdersService;
  notify: NotifyHandler;
  transport: FleetTransport;
  worker: ProvisioningWorker;
  reconciler: Reconciler;
  lifecycle: Lifecycle;
  start(): void;
  stop(): Promise<void>;
}

export function createTransport(cfg: BillingConfig): FleetTransport {
  const e = cfg.env;
  if (e.FLEET_TRANSPORT === "ssh") {
    return new SshFleetTransport({
      host: e.FLEET_SSH_HOST as string,
      port: e.FLEET_SSH_PORT,
      username: e.FLEET_SSH_USER,
      privateKey: cfg.sshKey as string,
      hostKeySha256: e.FLEET_SSH_HOST_KEY_SHA256 as string,
    });
  }
  return new HttpFleetTransport({
    fleetUrl: e.FLEET_URL as string,
    keyId: e.FLEET_KEY_ID as string,
    secret: cfg.fleetSecret as string,
  });
}

export async function createBilling(
  cfg: BillingConfig,
  opts: { log?: Logger; transport?: FleetTransport; metrics?: BillingMetrics } = {},
): Promise<Billing> {
  const e = cfg.env;
  const log = opts.log ?? createLogger("billing", { level: e.LOG_LEVEL });
  const metrics = opts.metrics ?? new BillingMetrics(true);
  const db = await openDatabase(e.BILLING_DATABASE_URL);
  await migrate(db);
  const store = new Store(db);
  const keys = new PlatformKeys();
  if (e.WECHATPAY_PUBLIC_KEY_ID && cfg.publicKeyPem) keys.addPublicKey(e.WECHATPAY_PUBLIC_KEY_ID, cfg.publicKeyPem);
  for (const pem of cfg.certPems) keys.addCertificate(pem);
  const wechat = new WechatPayClient({
    baseUrl: e.WECHATPAY_BASE_URL,
    mchid: e.WECHATPAY_MCHID,
    appid: e.WECHATPAY_APPID,
    merchantSerial: e.WECHATPAY_MERCHANT_SERIAL,
    merchantPrivateKeyPem: cfg.merchantKeyPem,
    platformKeys: keys,
    apiV3Key: cfg.apiV3Key,
  });
  if (e.WECHATPAY_LOAD_CERTIFICATES) await wechat.loadCertificates();
  const transport = opts.transport ?? createTransport(cfg);
  const worker = new ProvisioningWorker({
    store,
    transport,
    metrics,
    log: log.child({ part: "outbox" }),
    secret: cfg.secret,
    maxAttempts: e.OUTBOX_MAX_ATTEMPTS,
    baseDelayMs: e.OUTBOX_BASE_DELAY_MS,
    maxDelayMs: e.OUTBOX_MAX_DELAY_MS,
    pollMs: e.OUTBOX_POLL_MS,
  });
  const orders = new OrdersService({
    store,
    wechat,
    metrics,
    log: log.child({ part: "orders" }),
    notifyUrl: `${e.BILLING_PUBLIC_URL.replace(/\/$/, "")}/v1/payments/wechat/notify`,
    orderTtlS: e.BILLING_ORDER_TTL_S,
    secret: cfg.secret,
    tokenGraceDays: e.BILLING_TOKEN_GRACE_DAYS,
    mchid: e.WECHATPAY_MCHID,
    appid: e.WECHATPAY_APPID,
    kickOutbox: () => worker.kick(),
  });
  const notify = new NotifyHandler({
    store,
    orders,
    keys,
    apiV3Key: cfg.apiV3Key,
    mchid: e.WECHATPAY_MCHID,
    metrics,
    log: log.child({ part: "notify" }),
  });
  const reconciler = new Reconciler({
    store,
    orders,
    wechat,
    metrics,
    log: log.child({ part: "reconcile" }),
    unpaidAfterS: e.RECONCILE_UNPAID_AFTER_S,
    intervalS: e.RECONCILE_INTERVAL_S,
  });
  const lifecycle = new Lifecycle({
    store,
    log: log.child({ part: "lifecycle" }),
    graceDays: e.BILLING_GRACE_DAYS,
    retentionDays: e.BILLING_RETENTION_DAYS,
    kickOutbox: () => worker.kick(),
  });
  let lifecycleTimer: NodeJS.Timeout | undefined;
  return {
    cfg,
    db,
    store,
    log,
    metrics,
    wechat,
    orders,
    notify,
    transport,
    worker,
    reconciler,
    lifecycle,
    start() {
      worker.start();
      reconciler.start();
      lifecycleTimer = setInterval(
        () => void lifecycle.run().catch((err) => log.error({ err }, "lifecycle pass failed")),
        e.RECONCILE_INTERVAL_S * 1000,
      );
    },
    async stop() {
      if (lifecycleTimer) clearInterval(lifecycleTimer);
      reconciler.stop();
      await worker.stop();
      await transport.close();
      await db.destroy();
    },
  };
}
