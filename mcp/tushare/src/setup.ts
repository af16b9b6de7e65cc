/** From configuration to the pieces: the Tushare seam (HTTP client with a token, the embedded fixture without). */
import type { Logger } from "@twilight/core";
import type { Config } from "./config.js";
import { FixtureSource, fixtureFirstDate } from "./fixture.js";
import type { Metrics } from "./metrics.js";
import type { SchedulerSettings } from "./service.js";
import { TushareClient } from "./tushare/client.js";
import type { TushareApi } from "./tushare/types.js";

export function sourceFromConfig(cfg: Config, log: Logger, metrics?: Metrics): TushareApi {
  if (!cfg.TUSHARE_TOKEN) return new FixtureSource();
  return new TushareClient({
    url: cfg.TUSHARE_URL,
    token: cfg.TUSHARE_TOKEN,
    perMinute: cfg.TUSHARE_PER_MINUTE,
    retryBaseMs: cfg.TUSHARE_RETRY_BASE_MS,
    log: log.child({ part: "tushare" }),
    ...(metrics ? { onCall: (api: string, outcome: string) => metrics.tushareCalls.inc({ api, outcome }) } : {}),
  });
}

export function schedulerSettings(cfg: Config, api: TushareApi, overrides: { years?: number } = {}): SchedulerSettings {
  return {
    enabled: cfg.MCP_SCHEDULER === "on",
    watch: cfg.MCP_WATCH_LIST,
    years: overrides.years ?? cfg.MCP_BACKFILL_YEARS,
    // The embedded sample starts in 2023: a service without a token seeds all of it.
    ...(api.source === "fixture" ? { windowStart: fixtureFirstDate() } : {}),
    afterCloseMin: cfg.MCP_SCHEDULE_AFTER,
    retryFailedMs: cfg.MCP_RETRY_FAILED_MINUTES * 60_000,
    tickMs: cfg.MCP_SCHEDULER_TICK_SECONDS * 1000,
  };
}
