/** One prom-client registry per process: the three profile metrics of the plan (3.3) plus process metrics. */
import { CITE_FAILURE_REASONS } from "@twilight/core";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Resolution of the event-loop delay sample (ms). */
export const IDLE_SAMPLE_MS = 1000;

export class AgentMetrics {
  readonly registry = new Registry();
  readonly queries: Counter<"profile">;
  readonly duration: Histogram<"profile">;
  readonly citeFailures: Counter<"profile" | "reason">;
  readonly toolCalls: Counter<"profile" | "tool" | "outcome">;

  constructor(readonly profile: string) {
    // prom-client samples event-loop delay every 10 ms by default: ~90 wake-ups a second in a profile that does nothing,
    // 1.2% of a core each, 200 idle profiles = both cores of this host. One sample a second keeps the lag metric.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: IDLE_SAMPLE_MS });
    this.queries = new Counter({
      name: "hermes_query_total",
      help: "Chat requests answered by this profile",
      labelNames: ["profile"],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: "hermes_query_duration_seconds",
      help: "Chat request duration",
      labelNames: ["profile"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.citeFailures = new Counter({
      name: "hermes_cite_verification_failures_total",
      help: "Tool results refused because their cite did not verify",
      labelNames: ["profile", "reason"],
      registers: [this.registry],
    });
    this.toolCalls = new Counter({
      name: "hermes_tool_calls_total",
      help: "MCP tool calls by tool and outcome",
      labelNames: ["profile", "tool", "outcome"],
      registers: [this.registry],
    });
    // Expose the series at zero so dashboards see them before the first request.
    this.queries.inc({ profile }, 0);
    for (const reason of CITE_FAILURE_REASONS) this.citeFailures.inc({ profile, reason }, 0);
  }
}
