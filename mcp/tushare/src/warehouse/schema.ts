/**
 * Warehouse tables. Column names follow Tushare Pro (`daily` -> r_stock_daily, `trade_cal`, `stock_basic`,
 * `fina_indicator`); dates are YYYYMMDD strings as Tushare gives them; times are ISO-8601 strings.
 * `daily_loaded` records which (day, stock) pairs a backfill has written, in the same transaction as the bars, so a
 * day is either wholly there or not at all, and a suspended stock is not fetched again and again.
 */
export const SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS stock_basic (
    ts_code VARCHAR PRIMARY KEY, symbol VARCHAR NOT NULL, name VARCHAR NOT NULL, area VARCHAR, industry VARCHAR,
    market VARCHAR, list_date VARCHAR, updated_at VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS trade_cal (
    exchange VARCHAR NOT NULL, cal_date VARCHAR NOT NULL, is_open INTEGER NOT NULL, pretrade_date VARCHAR,
    PRIMARY KEY (exchange, cal_date))`,
  `CREATE TABLE IF NOT EXISTS r_stock_daily (
    ts_code VARCHAR NOT NULL, trade_date VARCHAR NOT NULL, open DOUBLE NOT NULL, high DOUBLE NOT NULL, low DOUBLE NOT NULL,
    close DOUBLE NOT NULL, pre_close DOUBLE NOT NULL, change DOUBLE NOT NULL, pct_chg DOUBLE NOT NULL, vol DOUBLE NOT NULL,
    amount DOUBLE NOT NULL, PRIMARY KEY (ts_code, trade_date))`,
  `CREATE TABLE IF NOT EXISTS daily_loaded (
    trade_date VARCHAR NOT NULL, ts_code VARCHAR NOT NULL, has_bar BOOLEAN NOT NULL, run_id BIGINT, loaded_at VARCHAR NOT NULL,
    PRIMARY KEY (trade_date, ts_code))`,
  `CREATE TABLE IF NOT EXISTS fina_indicator (
    ts_code VARCHAR NOT NULL, ann_date VARCHAR, end_date VARCHAR NOT NULL, eps DOUBLE, dt_eps DOUBLE, roe DOUBLE, roe_dt DOUBLE,
    roa DOUBLE, grossprofit_margin DOUBLE, netprofit_yoy DOUBLE, or_yoy DOUBLE, debt_to_assets DOUBLE, current_ratio DOUBLE,
    quick_ratio DOUBLE, bps DOUBLE, profit_dedt DOUBLE, PRIMARY KEY (ts_code, end_date))`,
  `CREATE TABLE IF NOT EXISTS fina_checked (
    ts_code VARCHAR NOT NULL, end_date VARCHAR NOT NULL, checked_on VARCHAR NOT NULL, found BOOLEAN NOT NULL,
    PRIMARY KEY (ts_code, end_date))`,
  "CREATE SEQUENCE IF NOT EXISTS scheduler_run_id START 1",
  `CREATE TABLE IF NOT EXISTS scheduler_runs (
    id BIGINT PRIMARY KEY, trigger VARCHAR NOT NULL, source VARCHAR NOT NULL, steps VARCHAR NOT NULL, started_at VARCHAR NOT NULL,
    finished_at VARCHAR, status VARCHAR NOT NULL, trade_cal_rows INTEGER NOT NULL DEFAULT 0, stock_rows INTEGER NOT NULL DEFAULT 0,
    daily_days INTEGER NOT NULL DEFAULT 0, daily_rows INTEGER NOT NULL DEFAULT 0, fundamentals_rows INTEGER NOT NULL DEFAULT 0,
    tushare_calls INTEGER NOT NULL DEFAULT 0, error VARCHAR)`,
  "CREATE SEQUENCE IF NOT EXISTS mcp_request_seq START 1",
  `CREATE TABLE IF NOT EXISTS mcp_requests (
    seq BIGINT NOT NULL DEFAULT nextval('mcp_request_seq'), called_at VARCHAR NOT NULL, profile VARCHAR NOT NULL, tool VARCHAR NOT NULL, params VARCHAR NOT NULL, request_id VARCHAR NOT NULL,
    ok BOOLEAN NOT NULL, error VARCHAR, duration_ms DOUBLE)`,
  "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
];
