/**
 * The scheduler against the local Tushare-protocol server over real HTTP, writing a real DuckDB file:
 * incremental backfill (a second run adds nothing), per-minute limits waited out, failed runs recorded.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { ManualClock } from "../clock.js";
import { Metrics } from "../metrics.js";
import { buildScheduler } from "../service.js";
import { FIXED_NOW, quietLog, tempDir } from "../testkit.js";
import { TushareClient } from "../tushare/client.js";
import { startTushareTestServer, type TushareTestServer } from "../tushare/testServer.js";
import { Warehouse } from "../warehouse/db.js";
import type { Scheduler } from "./scheduler.js";

const TOKEN = "tushare-test-token-0123";
const WINDOW_START = "20241201";

describe("scheduler against the Tushare protocol server", () => {
  let server: TushareTestServer;
  let tmp: ReturnType<typeof tempDir>;
  let wh: Warehouse;
  let clock: ManualClock;

  const scheduler = (token = TOKEN, retryBaseMs = 30): Scheduler =>
    buildScheduler({
      wh,
      api: new TushareClient({ url: server.url, token, retryBaseMs, perMinute: 500, log: quietLog }),
      settings: {
        enabled: true,
        watch: ["600519.SH", "000858.SZ"],
        years: 2,
        windowStart: WINDOW_START,
        afterCloseMin: 990,
        retryFailedMs: 30 * 60_000,
        tickMs: 3_600_000,
      },
      clock,
      log: quietLog,
      metrics: new Metrics(),
    });
  const count = async (sql: string) => Number((await wh.read(sql))[0]?.n);
  const openDaysInWindow = () =>
    count(`SELECT COUNT(*) AS n FROM trade_cal WHERE is_open = 1 AND cal_date BETWEEN '${WINDOW_START}' AND '20250110'`);

  before(async () => {
    server = await startTushareTestServer({ token: TOKEN });
  });
  after(() => server.close());
  beforeEach(async () => {
    tmp = tempDir();
    wh = await Warehouse.open({ path: join(tmp.dir, "warehouse.duckdb") });
    clock = new ManualClock(FIXED_NOW);
    server.reset();
  });
  afterEach(async () => {
    await wh.close();
    tmp.remove();
  });

  it("backfills every open day of the window, and a second run adds nothing", async () => {
    const s = scheduler();
    await s.init();
    const first = await s.runOnce("test");
    assert.equal(first.status, "ok", String(first.error));
    const days = await openDaysInWindow();
    assert.equal(days, 29, "22 open days in December 2024, 7 in January up to the 10th");
    assert.equal(first.daily_days, days);
    assert.equal(first.daily_rows, days * 2);
    assert.equal(first.fundamentals_rows, 2, "the 2024 Q4 rows of both stocks (20241231)");
    assert.equal(await count("SELECT COUNT(*) AS n FROM r_stock_daily"), days * 2);
    server.calls.length = 0;
    const second = await s.runOnce("test");
    assert.equal(second.status, "ok");
    assert.equal(second.daily_days, 0);
    assert.equal(second.daily_rows, 0);
    assert.equal(server.calls.filter((c) => c.api === "daily").length, 0, "no daily request when nothing is missing");
    assert.equal(await count("SELECT COUNT(*) AS n FROM r_stock_daily"), days * 2);
    const runs = await wh.read("SELECT id, status, daily_days FROM scheduler_runs ORDER BY id");
    assert.deepEqual(runs, [
      { id: 1, status: "ok", daily_days: days },
      { id: 2, status: "ok", daily_days: 0 },
    ]);
  });

  it("fetches only the days that arrived since the last run", async () => {
    const s = scheduler();
    await s.init();
    server.setDailyUntil("20250107");
    const first = await s.runOnce("test");
    assert.equal(await count("SELECT COUNT(*) AS n FROM r_stock_daily WHERE trade_date > '20250107'"), 0);
    server.setDailyUntil(undefined);
    server.calls.length = 0;
    const second = await s.runOnce("test");
    assert.equal(second.daily_days, 3, "20250108, 20250109, 20250110");
    assert.equal(first.daily_days + second.daily_days, await openDaysInWindow());
    const daily = server.calls.filter((c) => c.api === "daily");
    assert.deepEqual(
      daily.map((c) => [c.params.start_date, c.params.end_date]),
      [
        ["20250108", "20250110"],
        ["20250108", "20250110"],
      ],
    );
  });

  it("waits out a per-minute limit answer and retries", async () => {
    const s = scheduler(TOKEN, 40);
    await s.init();
    server.inject("rate_minute", 2, "daily");
    const t0 = performance.now();
    const run = await s.runOnce("test");
    const elapsed = performance.now() - t0;
    assert.equal(run.status, "ok", String(run.error));
    const daily = server.calls.filter((c) => c.api === "daily").map((c) => c.answer);
    assert.deepEqual(daily, ["rate_minute", "rate_minute", "ok", "ok"]);
    assert.ok(elapsed >= 40 + 80, `backed off 40 ms then 80 ms (took ${elapsed.toFixed(0)} ms)`);
    assert.equal(run.daily_days, await openDaysInWindow());
  });

  it("records a failed run without crashing, and the next run goes ahead", async () => {
    const s = scheduler();
    await s.init();
    assert.equal((await s.runOnce("test")).status, "ok");
    clock.advance(3 * 24 * 3600_000); // Monday 2025-01-13 after the close: one new day per stock
    server.inject("http_500", 3);
    const failed = await s.runOnce("test");
    assert.equal(failed.status, "failed");
    for (const step of ["trade_cal", "stock_basic", "daily"])
      assert.match(String(failed.error), new RegExp(`${step}: .*HTTP 500`));
    const [row] = await wh.read("SELECT status, error, finished_at FROM scheduler_runs WHERE id = ?", [failed.id]);
    assert.equal(row?.status, "failed");
    assert.match(String(row?.error), /HTTP 500/);
    assert.ok(row?.finished_at);
    assert.equal(s.status().consecutive_failures, 1);
    assert.equal(await s.tick(), undefined, "not retried before the retry interval");
    clock.advance(31 * 60_000);
    const next = await s.tick();
    assert.equal(next?.status, "ok", String(next?.error));
    assert.equal(next?.daily_days, 1, "20250113");
    assert.equal(s.status().consecutive_failures, 0);
    assert.equal(await s.tick(), undefined, "nothing due after a good run");
    clock.advance(24 * 3600_000);
    assert.equal((await s.tick())?.status, "ok", "due again after the next close");
  });

  it("a bad token, a per-day limit and a permission error fail fast with their kind; other steps still run", async () => {
    const bad = scheduler("wrong-token-000");
    await bad.init();
    const r1 = await bad.runOnce("test");
    assert.equal(r1.status, "failed");
    assert.match(String(r1.error), /trade_cal: .*token不对/);
    assert.equal(server.calls.filter((c) => c.api === "trade_cal").length, 1, "a bad token is not retried");

    const s = scheduler();
    await s.init();
    server.calls.length = 0;
    server.inject("rate_day", 1, "trade_cal");
    server.inject("permission", 2, "fina_indicator");
    const r2 = await s.runOnce("test");
    assert.equal(r2.status, "failed");
    assert.match(String(r2.error), /trade_cal: .*每天最多/);
    assert.match(String(r2.error), /fundamentals: .*没有访问该接口的权限/);
    assert.equal(server.calls.filter((c) => c.api === "trade_cal").length, 1, "a per-day limit is not retried");
    assert.equal(r2.stock_rows, 2, "stock_basic still refreshed");
    assert.equal(r2.daily_days, 0, "no calendar stored yet, so no open day to fill");
  });
});
