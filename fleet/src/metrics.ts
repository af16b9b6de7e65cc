/** The fleet daemon's one metrics registry. */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export function fleetMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "fleet_" });
  return {
    registry,
    profiles: new Gauge({
      name: "fleet_profiles",
      help: "Profiles by tier and status",
      labelNames: ["tier", "status"],
      registers: [registry],
    }),
    restarts: new Gauge({
      name: "fleet_profile_restarts",
      help: "Restarts recorded for a profile",
      labelNames: ["profile"],
      registers: [registry],
    }),
    apiRequests: new Counter({
      name: "fleet_api_requests_total",
      help: "Admin API requests",
      labelNames: ["method", "route", "status"],
      registers: [registry],
    }),
    frontDoor: new Histogram({
      name: "fleet_frontdoor_request_duration_seconds",
      help: "Front-door requests by profile and status",
      labelNames: ["profile", "status"],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    held: new Histogram({
      name: "fleet_frontdoor_held_seconds",
      help: "Time requests were held while their profile moved",
      labelNames: ["profile"],
      buckets: [0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5],
      registers: [registry],
    }),
  };
}
export type FleetMetrics = ReturnType<typeof fleetMetrics>;
