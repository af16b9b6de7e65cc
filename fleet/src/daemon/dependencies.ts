/**
 * The platform services a profile depends on, checked when it is spawned or started: a service that is down is a
 * warning (the profile still starts, and answers what it can), never a failure, and each warning names the command
 * that fixes it. A data service that answers but is behind is not down (its answers carry their as-of date; `doctor`
 * reports the lag). Pure: the daemon passes in what it observed.
 */
import type { GatewayStatus } from "../gateway-service/index.js";
import type { McpStatus } from "../mcp-service/index.js";

export interface DependencyWarning {
  service: "data-service" | "model-gateway";
  message: string;
  hint: string;
}

export interface Observed {
  /** The data service's status, or why it could not be read (Docker Engine unavailable, say). */
  mcp: McpStatus | { error: string };
  /** The model gateway's status; undefined when profiles do not use it (offline model, or `direct` route). */
  gateway?: GatewayStatus | { error: string };
}

export function dependencyWarnings(o: Observed): DependencyWarning[] {
  const out: DependencyWarning[] = [];
  const m = o.mcp;
  if ("error" in m)
    out.push({
      service: "data-service",
      message: `the data service cannot be checked (${m.error}); the profile's market-data tools will fail until it runs`,
      hint: "hermes-admin up",
    });
  else if (!m.running)
    out.push({
      service: "data-service",
      message: `the data service (${m.name}) is ${m.exists ? "stopped" : "not created"}; the profile's market-data tools will fail`,
      hint: "hermes-admin up (or hermes-admin mcp up)",
    });
  else if (m.health?.httpStatus !== 200)
    // answering 200 while `degraded` (data some days behind, say) is not down: answers stay cited with their as-of
    // date, and `doctor` reports the lag
    out.push({
      service: "data-service",
      message: `the data service (${m.name}) runs but does not answer its health check${
        m.health?.error ? ` (${m.health.error})` : m.health?.httpStatus ? ` (HTTP ${m.health.httpStatus})` : ""
      }`,
      hint: "hermes-admin mcp status; hermes-admin doctor",
    });
  else if (m.health.seeding?.state === "seeding") {
    const s = m.health.seeding;
    out.push({
      service: "data-service",
      message: `the data service is still seeding its warehouse (${s.days_done} of ${s.days_total ?? "?"} days${s.as_of ? `, data as of ${s.as_of}` : ""}); answers about the latest data may be behind`,
      hint: "hermes-admin mcp status shows the progress",
    });
  }
  const g = o.gateway;
  if (g && "error" in g)
    out.push({
      service: "model-gateway",
      message: `the model gateway cannot be checked (${g.error}); the profile cannot reach its model until it runs`,
      hint: "hermes-admin up (or hermes-admin gateway up)",
    });
  else if (g && !g.running)
    out.push({
      service: "model-gateway",
      message: "the model gateway is not running; the profile cannot reach its model",
      hint: "hermes-admin up (or hermes-admin gateway up)",
    });
  else if (g && !g.health?.ok)
    out.push({
      service: "model-gateway",
      message: `the model gateway runs but does not answer its health check${g.health?.error ? ` (${g.health.error})` : ""}`,
      hint: "hermes-admin gateway status; hermes-admin doctor",
    });
  return out;
}
