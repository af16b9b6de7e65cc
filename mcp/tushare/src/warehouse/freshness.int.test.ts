/**
 * Reads must see every committed write, however early a reader connection first ran the same query. DuckDB plans a
 * prepared statement with the table statistics of the moment (an empty `meta` makes `WHERE key = ...` an empty
 * result), so a reader statement cached before a write must not be reused after it. The service symptom was
 * `/health` showing `trade_cal.last_refresh: null` after a successful first run while it had been polled during seeding.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { Health } from "../http/health.js";
import { startTestService, tempDir } from "../testkit.js";
import { Warehouse } from "./db.js";
import { openDays, stats } from "./read.js";
import { upsertTradeCal } from "./write.js";

const REFRESHED = "2025-01-10T10:00:00.000Z";

describe("warehouse reads after writes", () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  it("a query first run on empty tables sees rows committed later on the same reader connection", async () => {
    const wh = await Warehouse.open({ path: join(tmp.dir, "fresh.duckdb"), readers: 1 });
    try {
      const before = await stats(wh);
      assert.equal(before.trade_cal_refreshed_at, null);
      assert.deepEqual(await openDays(wh, "SSE", "20250101", "20250110"), []);
      await upsertTradeCal(
        wh,
        [
          { exchange: "SSE", cal_date: "20250109", is_open: 1, pretrade_date: "20250108" },
          { exchange: "SSE", cal_date: "20250110", is_open: 1, pretrade_date: "20250109" },
        ],
        REFRESHED,
      );
      const afterWrite = await stats(wh);
      assert.equal(afterWrite.trade_cal_refreshed_at, REFRESHED, "meta written and committed, but read as missing");
      assert.equal(afterWrite.newest_cal_date, "20250110");
      assert.deepEqual(await openDays(wh, "SSE", "20250101", "20250110"), ["20250109", "20250110"]);
      // A second write replaces the value: the reader follows it too.
      await upsertTradeCal(wh, [], "2025-01-11T10:00:00.000Z");
      assert.equal((await stats(wh)).trade_cal_refreshed_at, "2025-01-11T10:00:00.000Z");
    } finally {
      await wh.close();
    }
  });

  it("a repeated answer comes from the read cache until a write, never across one, and callers cannot change it", async () => {
    const wh = await Warehouse.open({ path: join(tmp.dir, "cache.duckdb"), readers: 2 });
    try {
      const q = "SELECT count(*) AS n FROM trade_cal WHERE exchange = ?";
      const first = await wh.read(q, ["SSE"]);
      assert.equal(first[0]?.n, 0);
      (first[0] as { n: number }).n = 999; // a caller that mutates its answer
      assert.equal((await wh.read(q, ["SSE"]))[0]?.n, 0, "the cached answer is a copy");
      // reads racing a write: whatever they saw, after the write ends every read sees it
      const racing = Array.from({ length: 20 }, () => wh.read(q, ["SSE"]));
      const write = upsertTradeCal(
        wh,
        [{ exchange: "SSE", cal_date: "20250109", is_open: 1, pretrade_date: "20250108" }],
        REFRESHED,
      );
      await Promise.all([...racing, write]);
      for (let i = 0; i < 5; i++) assert.equal((await wh.read(q, ["SSE"]))[0]?.n, 1, "a stale answer survived the write");
      assert.equal((await wh.read(q, ["SZSE"]))[0]?.n, 0, "parameters are part of the key");
      assert.equal((await wh.read(q, ["SSE"], { cache: false }))[0]?.n, 1);
    } finally {
      await wh.close();
    }
  });

  it("/health polled by concurrent clients before and during the first run reports the trade_cal refresh after it", async () => {
    const svc = await startTestService({ dataDir: join(tmp.dir, "svc"), schedulerEnabled: false });
    try {
      const health = async () => (await (await fetch(new URL("/health", svc.url))).json()) as Health;
      // Several clients at once, so every reader connection runs the health queries on the empty warehouse.
      const early = await Promise.all(Array.from({ length: 6 }, health));
      for (const h of early) assert.equal(h.trade_cal.last_refresh, null);
      let polling = true;
      const pollers = Array.from({ length: 4 }, async () => {
        for (let i = 0; polling && i < 2000; i++) await health();
      });
      const run = await svc.scheduler.runOnce("test");
      polling = false;
      await Promise.all(pollers);
      assert.equal(run.status, "ok", run.error ?? "");
      const late = await Promise.all(Array.from({ length: 6 }, health));
      for (const h of late) {
        assert.ok(h.trade_cal.last_refresh, `last_refresh still null after an ok run (daily rows ${h.daily.rows})`);
        assert.equal(h.trade_cal.age_seconds, 0);
        assert.ok(h.daily.rows > 0);
      }
    } finally {
      await svc.close();
    }
  });
});
