#!/usr/bin/env node
/** `twilight-billing`: the billing service. Configuration from the environment (see backend/README.md). */
import { isDomainError } from "@twilight/core";
import { createBilling } from "./billing.js";
import { loadBillingConfig } from "./config.js";
import { startHttp } from "./http/server.js";

try {
  const cfg = loadBillingConfig();
  const billing = await createBilling(cfg);
  const http = await startHttp(billing, { host: cfg.env.BILLING_HOST, port: cfg.env.BILLING_PORT });
  process.stdout.write(`${JSON.stringify({ url: http.url })}\n`);
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void http.close().then(() => process.exit(0)));
} catch (e) {
  process.stderr.write(`${isDomainError(e) ? `${e.message}\n${e.hint ?? ""}` : (e as Error).stack}\n`);
  process.exit(isDomainError(e) && e.code === "CONFIG_INVALID" ? 78 : 1);
}
