/** Helpers for this workspace's integration tests and benchmark: temp data dirs, tokens.json, a service on port 0. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type Logger, sha256Hex } from "@twilight/core";
import { DATA_FILES, writeFileAtomic } from "./auth.js";
import { type Clock, ManualClock } from "./clock.js";
import { FixtureSource } from "./fixture.js";
import { type SchedulerSettings, type Service, startService } from "./service.js";
import type { TushareApi } from "./tushare/types.js";

export const quietLog: Logger = createLogger("mcp-tushare-test", { level: process.env.TEST_LOG_LEVEL ?? "silent" });

export function tempDir(prefix = "mcp-tushare-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write tokens.json the way the fleet does (sha256 of each token, tmp + rename). */
export function writeTokens(dataDir: string, tokens: Record<string, string>): void {
  const body = {
    version: 1,
    tokens: Object.fromEntries(
      Object.entries(tokens).map(([profile, token]) => [sha256Hex(token), { profile, issued_at: new Date().toISOString() }]),
    ),
  };
  writeFileAtomic(join(dataDir, DATA_FILES.tokens), JSON.stringify(body), 0o600);
}

/** 2025-01-10 18:00 Asia/Shanghai: after the close, 2024-12-31 well inside the data. */
export const FIXED_NOW = Date.UTC(2025, 0, 10, 10, 0, 0);

export interface TestServiceOptions {
  dataDir: string;
  api?: TushareApi;
  clock?: Clock;
  windowStart?: string;
  watch?: string[];
  schedulerEnabled?: boolean;
  tokens?: Record<string, string>;
  socketPath?: string;
}

export async function startTestService(o: TestServiceOptions): Promise<Service & { clock: Clock }> {
  if (o.tokens) writeTokens(o.dataDir, o.tokens);
  const clock = o.clock ?? new ManualClock(FIXED_NOW);
  const scheduler: SchedulerSettings = {
    enabled: o.schedulerEnabled ?? false,
    watch: o.watch ?? ["600519.SH", "000858.SZ"],
    years: 2,
    windowStart: o.windowStart ?? "20241201",
    afterCloseMin: 16 * 60 + 30,
    retryFailedMs: 30 * 60_000,
    tickMs: 3_600_000,
  };
  const svc = await startService({
    dataDir: o.dataDir,
    host: "127.0.0.1",
    port: 0,
    ...(o.socketPath ? { socketPath: o.socketPath } : {}),
    api: o.api ?? new FixtureSource(),
    scheduler,
    clock,
    log: quietLog,
  });
  return { ...svc, clock };
}
