/** Composition of the gateway from its configuration (used by `twilight-gateway serve` and the tests). */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createLogger, type Logger } from "@twilight/core";
import type { GatewayConfig } from "./config.js";
import { KeyStore } from "./keys.js";
import { Limiter } from "./limits.js";
import { Meter } from "./meter.js";
import { createMetrics, type Metrics } from "./metrics.js";
import { DEFAULT_PRICES, type ModelPrice, mergeLimits } from "./policy.js";
import { FairScheduler } from "./scheduler.js";
import { SecretFile } from "./secret.js";
import { gatewayRouter, startServer } from "./server.js";
import { UpstreamClient } from "./upstream.js";

export interface RunningGateway {
  server: Server;
  url: string;
  meter: Meter;
  metrics: Metrics;
  scheduler: FairScheduler;
  close(): Promise<void>;
}

/** The admin token (for /metrics and /admin/usage): read from the data dir, created 0600 when missing. */
export function adminToken(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    const t = randomBytes(24).toString("base64url");
    writeFileSync(path, `${t}\n`, { mode: 0o600, flag: "wx" });
    return t;
  }
}

export async function startGateway(
  cfg: GatewayConfig,
  o: { log?: Logger; metricsDefaults?: boolean } = {},
): Promise<RunningGateway> {
  const log = o.log ?? createLogger("gateway", { level: cfg.logLevel });
  mkdirSync(cfg.dataDir, { recursive: true, mode: 0o700 });
  const secret = new SecretFile(cfg.secretFile, log);
  const meter = new Meter(cfg.usageDb);
  const metrics = createMetrics({ defaults: o.metricsDefaults });
  const scheduler = new FairScheduler(cfg.slots);
  const prices = new Map<string, ModelPrice>([...DEFAULT_PRICES, ...Object.entries(cfg.prices ?? {})]);
  const upstream = new UpstreamClient({
    secret: () => secret.get(),
    retry: cfg.retry,
    timeoutMs: cfg.timeoutMs,
    onRateLimited: (until) => scheduler.pause(until),
    onRetry: (reason) => metrics.retries.inc({ reason }),
  });
  const router = gatewayRouter({
    keys: new KeyStore(cfg.keysFile, log),
    limiter: new Limiter((p, day, month) => meter.totals(p, day, month)),
    scheduler,
    upstream,
    meter,
    metrics,
    limits: mergeLimits(cfg.limits),
    prices,
    adminToken: adminToken(cfg.adminTokenFile),
    log,
  });
  // GATEWAY_HOST may list several addresses (loopback for prefab profiles, the container network's gateway for containers)
  const hosts = cfg.host
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  const server = await startServer(router, log, hosts[0] as string, cfg.port);
  const { port } = server.address() as AddressInfo;
  const servers = [server];
  for (const h of hosts.slice(1)) servers.push(await startServer(router, log, h, port));
  log.info({ hosts, port, slots: cfg.slots }, "model gateway listening");
  return {
    server,
    url: `http://${hosts[0]}:${port}`,
    meter,
    metrics,
    scheduler,
    close: async () => {
      await Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      );
      upstream.close();
      meter.close();
    },
  };
}
