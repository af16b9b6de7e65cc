/** One prom-client Registry for the service (never the global default). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export class Metrics {
  readonly registry = new Registry();
  readonly toolCalls = new Counter({
    name: "mcp_tushare_tool_calls_total",
    help: "MCP tool calls by tool and outcome (ok, error)",
    labelNames: ["tool", "outcome"] as const,
    registers: [this.registry],
  });
  readonly toolDuration = new Histogram({
    name: "mcp_tushare_tool_call_duration_seconds",
    help: "Time to answer an MCP tool call (query and signing)",
    labelNames: ["tool"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly authFailures = new Counter({
    name: "mcp_tushare_auth_failures_total",
    help: "Requests refused for a missing or unknown bearer token, by route",
    labelNames: ["route"] as const,
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: "mcp_tushare_http_requests_total",
    help: "HTTP requests by route and status code",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });
  readonly schedulerRuns = new Counter({
    name: "mcp_tushare_scheduler_runs_total",
    help: "Scheduler runs by status (ok, failed)",
    labelNames: ["status"] as const,
    registers: [this.registry],
  });
  readonly tushareCalls = new Counter({
    name: "mcp_tushare_upstream_calls_total",
    help: "Tushare HTTP exchanges by API and outcome (ok, rate_minute, rate_day, bad_token, permission, ...)",
    labelNames: ["api", "outcome"] as const,
    registers: [this.registry],
  });
  readonly newestDaily = new Gauge({
    name: "mcp_tushare_newest_daily_date",
    help: "Newest trade_date in r_stock_daily, as the number YYYYMMDD",
    registers: [this.registry],
  });
  readonly dataLag = new Gauge({
    name: "mcp_tushare_data_lag_open_days",
    help: "Open trading days between the newest stored daily bar and the newest one that should be out",
    registers: [this.registry],
  });
  readonly calRefreshed = new Gauge({
    name: "mcp_tushare_trade_cal_refreshed_timestamp_seconds",
    help: "When trade_cal was last refreshed (Unix seconds)",
    registers: [this.registry],
  });
}
