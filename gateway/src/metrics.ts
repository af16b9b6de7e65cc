/** The gateway's one Prometheus registry. Label values are bounded: profiles (one per tenant), limit names, directions. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults !== false) collectDefaultMetrics({ register: registry, prefix: "twilight_gateway_" });
  return {
    registry,
    tokens: new Counter({
      name: "twilight_model_tokens_total",
      help: "Model tokens metered by the gateway, by profile and direction (prompt | completion)",
      labelNames: ["profile", "direction"] as const,
      registers: [registry],
    }),
    spend: new Counter({
      name: "twilight_model_spend_fen_total",
      help: "Model spend in fen (CNY cents) from the gateway's price table, by profile",
      labelNames: ["profile"] as const,
      registers: [registry],
    }),
    limited: new Counter({
      name: "twilight_model_limited_total",
      help: "Requests refused with 429 by the gateway, by profile and the limit that refused them",
      labelNames: ["profile", "limit"] as const,
      registers: [registry],
    }),
    requests: new Counter({
      name: "twilight_model_requests_total",
      help: "Chat completion requests answered by the gateway, by profile and status code",
      labelNames: ["profile", "code"] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: "twilight_model_upstream_retries_total",
      help: "Upstream attempts retried by the gateway, by reason (HTTP status or connection error)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: "twilight_model_request_duration_seconds",
      help: "Time from request to the end of the answer, gateway included",
      buckets: [0.005, 0.025, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    queued: new Gauge({
      name: "twilight_model_queued_requests",
      help: "Requests waiting for an upstream slot",
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
