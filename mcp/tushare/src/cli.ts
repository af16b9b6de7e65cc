#!/usr/bin/env node
/**
 * The data service's command line: `serve`, `check`, `backfill`, `seed-trade-cal`, `rotate-key`, `tushare-test-server`.
 * `hermes-admin mcp check` spawns `check`; scripts/data/backfill-tushare and scripts/data/seed-trade-cal call the rest.
 * Exit codes: 0 ok, 1 a check item or a run failed (or an error), 2 bad usage.
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createLogger, DomainError, errorFromBody } from "@twilight/core";
import { ensureDataDir, readAdminToken } from "./auth.js";
import { formatCheck, runCheck } from "./check.js";
import { DEFAULT_DATA_DIR, readConfig } from "./config.js";
import { rotateKey } from "./keys.js";
import { Metrics } from "./metrics.js";
import { STEPS, type Step } from "./scheduler/scheduler.js";
import { serve } from "./serve.js";
import { buildScheduler, openWarehouse } from "./service.js";
import { schedulerSettings, sourceFromConfig } from "./setup.js";
import { startTushareTestServer } from "./tushare/testServer.js";

const HELP = `usage: mcp-tushare <command> [options]

commands:
  serve                      run the data service (configured by environment variables, see README.md)
  check [options]            the health checklist: tools list, trade_cal refresh, new daily data, /warehouse routes
      --url URL              service base URL (default http://127.0.0.1:$MCP_PORT or :9100)
      --token TOKEN          a profile MCP token or the admin token (default: $MCP_CHECK_TOKEN, else <data-dir>/admin-token)
      --data-dir DIR         where admin-token lives (default $MCP_DATA_DIR or ${DEFAULT_DATA_DIR})
      --max-cal-age-hours N  trade_cal must be refreshed within N hours (default 36)
      --max-lag-days N       r_stock_daily may lag the latest due open day by N open days (default 1)
      --json                 print the report as JSON
  backfill [options]         one scheduler run: trade_cal, stock_basic, daily bars, fundamentals
      --steps a,b            only these steps (${STEPS.join(", ")})
      --years N              backfill window in years (default $MCP_BACKFILL_YEARS or 2)
      --url URL              ask a running service to do it (POST /admin/scheduler/run) instead of opening the file
      --data-dir DIR, --json
  seed-trade-cal [options]   refresh trade_cal only (same options as backfill)
  rotate-key [options]       add a new cite signing key; the current one stays trusted for a grace period, then is
                             refused. A running service picks the new key set up without a restart.
      --grace-seconds N      how long the retiring key stays valid after the new one signs (default 3600)
      --activate-in-seconds N  publish the new key now, sign with it after N seconds (default 0), so the fleet can pin
                             it into every profile first
      --data-dir DIR         the service's data dir (default $MCP_DATA_DIR or ${DEFAULT_DATA_DIR})
      --json                 print the result (new key id, published keys with not_after) as JSON
  tushare-test-server        a local Tushare-protocol server serving the embedded fixture (a developer tool)
      --port N (default 7100), --host H (default 127.0.0.1), --token T (default "test-token"), --per-minute N

Without TUSHARE_TOKEN, backfill and serve use the embedded fixture (real 2023-2025 data for 600519.SH and 000858.SZ).
exit codes: 0 ok, 1 failed, 2 bad usage`;

class Usage extends Error {}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Usage(`--${name} needs a whole number, got ${JSON.stringify(v)}`);
  return n;
}

function parse(args: string[], options: Record<string, { type: "string" | "boolean" }>) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: "boolean" } }, allowPositionals: false, strict: true })
      .values as Record<string, string | boolean | undefined>;
  } catch (e) {
    throw new Usage((e as Error).message);
  }
}

async function cmdCheck(args: string[]): Promise<number> {
  const v = parse(args, {
    url: { type: "string" },
    token: { type: "string" },
    "data-dir": { type: "string" },
    "max-cal-age-hours": { type: "string" },
    "max-lag-days": { type: "string" },
    "timeout-ms": { type: "string" },
    json: { type: "boolean" },
  });
  const dataDir = (v["data-dir"] as string | undefined) ?? process.env.MCP_DATA_DIR ?? DEFAULT_DATA_DIR;
  const token = (v.token as string | undefined) ?? process.env.MCP_CHECK_TOKEN ?? readAdminToken(dataDir);
  if (!token) throw new Usage(`no token: pass --token, set MCP_CHECK_TOKEN, or point --data-dir at a data dir with admin-token`);
  const url = (v.url as string | undefined) ?? `http://127.0.0.1:${process.env.MCP_PORT ?? 9100}`;
  const report = await runCheck({
    url,
    token,
    maxCalAgeHours: int(v["max-cal-age-hours"] as string | undefined, "max-cal-age-hours") ?? 36,
    maxLagDays: int(v["max-lag-days"] as string | undefined, "max-lag-days") ?? 1,
    timeoutMs: int(v["timeout-ms"] as string | undefined, "timeout-ms") ?? 10_000,
  });
  process.stdout.write(v.json ? `${JSON.stringify(report, null, 2)}\n` : formatCheck(report));
  return report.ok ? 0 : 1;
}

async function cmdBackfill(args: string[], fixedSteps?: Step[]): Promise<number> {
  const v = parse(args, {
    steps: { type: "string" },
    years: { type: "string" },
    url: { type: "string" },
    "data-dir": { type: "string" },
    json: { type: "boolean" },
  });
  const steps = fixedSteps ??
    ((v.steps as string | undefined)?.split(",").map((s) => s.trim()) as Step[] | undefined) ?? [...STEPS];
  const bad = steps.filter((s) => !(STEPS as readonly string[]).includes(s));
  if (bad.length) throw new Usage(`unknown steps ${bad.join(", ")}; known: ${STEPS.join(", ")}`);
  const env = { ...process.env, ...(v["data-dir"] ? { MCP_DATA_DIR: v["data-dir"] as string } : {}) };
  const cfg = readConfig(env);
  const out = (line: string) => {
    if (!v.json) process.stdout.write(`${line}\n`);
  };
  let run: Record<string, unknown>;
  if (v.url) {
    const token = process.env.MCP_ADMIN_TOKEN ?? readAdminToken(cfg.MCP_DATA_DIR);
    if (!token) throw new Usage(`no admin token: set MCP_ADMIN_TOKEN or --data-dir to the service's data dir`);
    const res = await fetch(new URL(`/admin/scheduler/run?steps=${steps.join(",")}`, v.url as string), {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
    });
    const body = (await res.json().catch(() => ({}))) as { run?: Record<string, unknown> };
    if (!res.ok || !body.run) throw errorFromBody(body, res.status);
    run = body.run;
  } else {
    const log = createLogger("mcp-tushare-backfill", { level: process.env.LOG_LEVEL ?? "warn" });
    const api = sourceFromConfig(cfg, log);
    const wh = await openWarehouse(cfg.MCP_DATA_DIR);
    try {
      const years = int(v.years as string | undefined, "years");
      const scheduler = buildScheduler({
        wh,
        api,
        settings: schedulerSettings(cfg, api, years === undefined ? {} : { years }),
        clock: { now: () => Date.now() },
        log,
        metrics: new Metrics(),
        onDay: (d, rows) => out(`day ${d} committed (${rows} rows)`),
      });
      await scheduler.init();
      out(`backfill from ${api.source} into ${join(cfg.MCP_DATA_DIR, "warehouse.duckdb")}: ${steps.join(", ")}`);
      run = { ...(await scheduler.runOnce("cli", steps)) };
    } finally {
      await wh.close();
    }
  }
  if (v.json) process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
  else
    out(
      `run #${run.id} ${run.status}: trade_cal ${run.trade_cal_rows} rows, stocks ${run.stock_rows}, daily ${run.daily_days} days / ${run.daily_rows} rows, fundamentals ${run.fundamentals_rows}, ${run.tushare_calls} upstream calls${run.error ? `\nerror: ${run.error}` : ""}`,
    );
  return run.status === "ok" ? 0 : 1;
}

function cmdRotateKey(args: string[]): number {
  const v = parse(args, {
    "grace-seconds": { type: "string" },
    "activate-in-seconds": { type: "string" },
    "data-dir": { type: "string" },
    json: { type: "boolean" },
  });
  const dataDir = (v["data-dir"] as string | undefined) ?? process.env.MCP_DATA_DIR ?? DEFAULT_DATA_DIR;
  ensureDataDir(dataDir);
  const r = rotateKey(dataDir, {
    graceSeconds: int(v["grace-seconds"] as string | undefined, "grace-seconds") ?? 3600,
    activateInSeconds: int(v["activate-in-seconds"] as string | undefined, "activate-in-seconds") ?? 0,
  });
  if (v.json) process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  else
    process.stdout.write(
      `new cite key ${r.new_key_id} signs from ${r.signs_from}\n` +
        (r.retiring_key_id ? `retiring key ${r.retiring_key_id} is refused after ${r.retiring_not_after}\n` : "") +
        `published keys (${join(dataDir, "cite-keys.json")}): ${r.keys.map((k) => k.key_id).join(", ")}\n`,
    );
  return 0;
}

async function cmdTestServer(args: string[]): Promise<number> {
  const v = parse(args, {
    port: { type: "string" },
    host: { type: "string" },
    token: { type: "string" },
    "per-minute": { type: "string" },
  });
  const perMinute = int(v["per-minute"] as string | undefined, "per-minute");
  const s = await startTushareTestServer({
    token: (v.token as string | undefined) ?? "test-token",
    host: (v.host as string | undefined) ?? "127.0.0.1",
    port: int(v.port as string | undefined, "port") ?? 7100,
    ...(perMinute ? { perMinute } : {}),
  });
  process.stdout.write(`tushare test server on ${s.url} (TUSHARE_URL=${s.url})\n`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  await s.close();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help" || rest.includes("--help")) {
    process.stdout.write(`${HELP}\n`);
    return cmd ? 0 : 2;
  }
  switch (cmd) {
    case "serve":
      await serve();
      return -1;
    case "check":
      return cmdCheck(rest);
    case "backfill":
      return cmdBackfill(rest);
    case "seed-trade-cal":
      return cmdBackfill(rest, ["trade_cal"]);
    case "rotate-key":
      return cmdRotateKey(rest);
    case "tushare-test-server":
      return cmdTestServer(rest);
    default:
      throw new Usage(`unknown command ${JSON.stringify(cmd)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (e) => {
    if (e instanceof Usage) {
      process.stderr.write(`mcp-tushare: ${e.message}\n\n${HELP}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`mcp-tushare: ${(e as Error).message}\n`);
    if (e instanceof DomainError && e.hint) process.stderr.write(`hint: ${e.hint}\n`);
    process.exitCode = 1;
  },
);
