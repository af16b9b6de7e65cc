/** The HTTP routes on a real service over a real DuckDB file: health, warehouse pages, validation, keys, metrics. */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { importSigningKey, publicCiteKey } from "@twilight/core";
import type { Service } from "../service.js";
import { startTestService, tempDir } from "../testkit.js";
import type { Health } from "./health.js";

const TOKEN = "route-test-token-0123456789";

describe("HTTP routes", () => {
  const tmp = tempDir();
  let svc: Service;
  const get = async (path: string, token: string | null = TOKEN) => {
    const res = await fetch(new URL(path, svc.url), { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    svc = await startTestService({ dataDir: tmp.dir, tokens: { dora: TOKEN }, schedulerEnabled: false });
    await svc.scheduler.runOnce("test");
  });
  after(async () => {
    await svc.close();
    tmp.remove();
  });

  it("/health reports tools, trade_cal refresh, newest daily date, data lag and scheduler state without auth", async () => {
    const { status, body } = await get("/health", null);
    assert.equal(status, 200);
    const h = body as unknown as Health;
    assert.equal(h.tools.count, 5);
    assert.ok(h.trade_cal.last_refresh);
    assert.equal(h.trade_cal.age_seconds, 0);
    assert.equal(h.daily.newest_trade_date, "20250110");
    assert.equal(h.data_lag.expected_trade_date, "20250110");
    assert.equal(h.data_lag.open_days_behind, 0);
    assert.equal(h.scheduler.enabled, false, "this service was started with the scheduler off");
    assert.equal(h.status, "degraded");
  });

  it("/warehouse/daily pages newest first with next_offset", async () => {
    const p1 = await get("/warehouse/daily?ts_code=600519&limit=2");
    assert.equal(p1.status, 200);
    const rows = p1.body.rows as { trade_date: string; close: number }[];
    assert.deepEqual(
      rows.map((r) => r.trade_date),
      ["20250110", "20250109"],
    );
    assert.equal(p1.body.next_offset, 2);
    const total = p1.body.total as number;
    const last = await get(`/warehouse/daily?ts_code=sh600519&limit=2&offset=${total - 1}`);
    assert.equal((last.body.rows as unknown[]).length, 1);
    assert.equal(last.body.next_offset, null);
    const day = await get("/warehouse/daily?ts_code=600519.SH&start_date=20241231&end_date=20241231");
    assert.equal((day.body.rows as { close: number }[])[0]?.close, 1524);
  });

  it("/warehouse/trade_cal, /warehouse/fundamentals and /warehouse/stocks answer pages", async () => {
    const cal = await get("/warehouse/trade_cal?start_date=20241228&end_date=20250105&is_open=1");
    assert.deepEqual(
      (cal.body.rows as { cal_date: string }[]).map((r) => r.cal_date),
      ["20241230", "20241231", "20250102", "20250103"],
    );
    const fina = await get("/warehouse/fundamentals?ts_code=600519&period=20241231");
    assert.equal((fina.body.rows as { dt_eps: number }[])[0]?.dt_eps, 68.64);
    const stocks = await get("/warehouse/stocks?q=%E4%BA%94%E7%B2%AE");
    assert.deepEqual(
      (stocks.body.rows as { ts_code: string }[]).map((r) => r.ts_code),
      ["000858.SZ"],
    );
    assert.equal((await get("/warehouse/stocks?q=600519")).body.total, 1);
  });

  it("validates queries: bad values and unknown parameters get 400, unknown codes 404, no token 401", async () => {
    assert.equal((await get("/warehouse/daily?limit=5000")).status, 400);
    assert.equal((await get("/warehouse/daily?start_date=2024-12-31")).status, 400);
    assert.equal((await get("/warehouse/daily?page=2")).status, 400);
    assert.equal((await get("/warehouse/trade_cal?exchange=NYSE")).status, 400);
    assert.equal((await get("/warehouse/daily?ts_code=abc")).status, 400);
    const unknown = await get("/warehouse/daily?ts_code=600000");
    assert.equal(unknown.status, 404);
    assert.match(JSON.stringify(unknown.body), /600000\.SH/);
    assert.equal((await get("/warehouse/stocks", null)).status, 401);
    assert.equal((await get("/warehouse/stocks", "nope")).status, 401);
    assert.equal((await get("/warehouse/nothing")).status, 404);
  });

  it("publishes the signing key at /.well-known/cite-keys and in cite-keys.json; secrets are 0600", async () => {
    const { body } = await get("/.well-known/cite-keys", null);
    const pem = readFileSync(join(tmp.dir, "cite-signing-key.pem"), "utf8");
    const keys = (body as { keys: Record<string, unknown>[] }).keys;
    assert.deepEqual(
      keys.map(({ key_id, alg, x }) => ({ key_id, alg, x })),
      [publicCiteKey(importSigningKey(pem))],
    );
    assert.equal(keys[0]?.not_after, null);
    assert.deepEqual(JSON.parse(readFileSync(join(tmp.dir, "cite-keys.json"), "utf8")), body);
    assert.equal(statSync(join(tmp.dir, "cite-signing-key.pem")).mode & 0o777, 0o600);
    assert.equal(statSync(join(tmp.dir, "admin-token")).mode & 0o777, 0o600);
  });

  it("/metrics is Prometheus text from the service's own registry", async () => {
    await get("/warehouse/stocks", "bad-token");
    const res = await fetch(new URL("/metrics", svc.url));
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(text, /mcp_tushare_auth_failures_total\{route="\/warehouse\/stocks"\} [1-9]/);
    assert.match(text, /mcp_tushare_newest_daily_date 20250110/);
    assert.match(text, /mcp_tushare_scheduler_runs_total\{status="ok"\} 1/);
    assert.match(text, /mcp_tushare_http_requests_total\{route="\/warehouse\/daily",status="200"\}/);
  });
});
