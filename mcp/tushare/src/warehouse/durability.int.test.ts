/**
 * kill -9 of the data service in the middle of a backfill: the DuckDB file must reopen and hold only whole days
 * (every stored day has all of its stocks, bars and daily_loaded marks agree), and a later run completes the rest.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ManualClock } from "../clock.js";
import { loadFixture } from "../fixture.js";
import { Metrics } from "../metrics.js";
import { buildScheduler } from "../service.js";
import { quietLog, tempDir } from "../testkit.js";
import { TushareClient } from "../tushare/client.js";
import { startTushareTestServer, type TushareTestServer } from "../tushare/testServer.js";
import { rowsOf } from "../tushare/types.js";
import { Warehouse } from "./db.js";

const MAIN = fileURLToPath(new URL("../main.js", import.meta.url));
const TOKEN = "durability-token-0123";
const KILL_AFTER_DAYS = 120;

describe("warehouse durability", () => {
  const tmp = tempDir();
  let server: TushareTestServer;
  before(async () => {
    server = await startTushareTestServer({ token: TOKEN });
  });
  after(async () => {
    await server.close();
    tmp.remove();
  });

  it("kill -9 of the service mid-backfill leaves only whole days, and the next run completes the rest", async () => {
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? "",
        MCP_DATA_DIR: tmp.dir,
        MCP_HOST: "127.0.0.1",
        MCP_PORT: "0",
        TUSHARE_URL: server.url,
        TUSHARE_TOKEN: TOKEN,
        TUSHARE_PER_MINUTE: "10000",
        MCP_BACKFILL_YEARS: "5",
        LOG_LEVEL: "debug",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code, signal })),
    );
    let stderr = "";
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
    });
    let committed = 0;
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    try {
      for await (const line of createInterface({ input: child.stdout })) {
        if (line.includes('"daily day committed"')) committed++;
        if (committed >= KILL_AFTER_DAYS) {
          child.kill("SIGKILL");
          break;
        }
      }
    } finally {
      clearTimeout(timer);
    }
    const { signal } = await exited;
    assert.equal(signal, "SIGKILL", `the service ended on its own: ${stderr.slice(0, 500)}`);
    assert.ok(committed >= KILL_AFTER_DAYS, `saw ${committed} committed days before the kill`);

    const ro = await Warehouse.open({ path: join(tmp.dir, "warehouse.duckdb"), readOnly: true });
    let roDays: number;
    try {
      roDays = Number((await ro.read("SELECT COUNT(DISTINCT trade_date) AS n FROM r_stock_daily"))[0]?.n);
      await assert.rejects(
        ro.write((c) => c.run("DELETE FROM r_stock_daily")),
        /read-only/,
      );
    } finally {
      await ro.close();
    }
    const wh = await Warehouse.open({ path: join(tmp.dir, "warehouse.duckdb") });
    try {
      const days = await wh.read("SELECT trade_date, COUNT(*) AS n FROM r_stock_daily GROUP BY trade_date");
      assert.ok(days.length >= KILL_AFTER_DAYS, `${days.length} days survived`);
      assert.ok(days.length < 727, "the kill landed before the backfill finished");
      assert.equal(roDays, days.length, "a read-only open after the crash sees the same days");
      assert.deepEqual(
        days.filter((d) => d.n !== 2),
        [],
        "every stored day has both stocks",
      );
      const orphanBars = await wh.read(`SELECT COUNT(*) AS n FROM r_stock_daily d
        LEFT JOIN daily_loaded l USING (trade_date, ts_code) WHERE l.ts_code IS NULL OR NOT l.has_bar`);
      const orphanMarks = await wh.read(`SELECT COUNT(*) AS n FROM daily_loaded l
        LEFT JOIN r_stock_daily d USING (trade_date, ts_code) WHERE l.has_bar AND d.ts_code IS NULL`);
      assert.equal(orphanBars[0]?.n, 0, "no bar without its daily_loaded mark");
      assert.equal(orphanMarks[0]?.n, 0, "no daily_loaded mark without its bar");
      const fixture = new Map(rowsOf(loadFixture().daily).map((r) => [`${r.ts_code}|${r.trade_date}`, r]));
      const stored = await wh.read("SELECT * FROM r_stock_daily");
      for (const r of stored) assert.deepEqual(r, fixture.get(`${r.ts_code}|${r.trade_date}`));
      const runs = await wh.read("SELECT status FROM scheduler_runs");
      assert.deepEqual(runs, [{ status: "running" }], "the killed run was left open");

      const s = buildScheduler({
        wh,
        api: new TushareClient({ url: server.url, token: TOKEN, perMinute: 10_000, log: quietLog }),
        settings: {
          enabled: true,
          watch: ["600519.SH", "000858.SZ"],
          years: 5,
          afterCloseMin: 990,
          retryFailedMs: 60_000,
          tickMs: 3_600_000,
        },
        clock: new ManualClock(Date.now()),
        log: quietLog,
        metrics: new Metrics(),
      });
      await s.init();
      const run = await s.runOnce("test");
      assert.equal(run.status, "ok", String(run.error));
      assert.equal(run.daily_days, 727 - days.length, "only the missing days were fetched");
      const total = await wh.read("SELECT COUNT(*) AS n, COUNT(DISTINCT trade_date) AS d FROM r_stock_daily");
      assert.deepEqual(total, [{ n: 1454, d: 727 }]);
      const statuses = await wh.read("SELECT status FROM scheduler_runs ORDER BY id");
      assert.deepEqual(
        statuses.map((r) => r.status),
        ["aborted", "ok"],
      );
    } finally {
      await wh.close();
    }
  });
});
