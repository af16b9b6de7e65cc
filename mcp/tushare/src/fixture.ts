/**
 * The embedded sample (mcp/tushare/fixtures/, real figures from shared/data/ashare with provenance in its README):
 * loaded into Tushare-shaped tables, and served through the same TushareApi seam as the HTTP client, so a service
 * without a Tushare token still fills its warehouse with real data by the scheduler's own code path.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { csvObjects } from "./csv.js";
import { answerQuery } from "./tushare/answer.js";
import { FIELDS, type TushareApi, type TushareApiName, type TushareParams, type TushareTable } from "./tushare/types.js";

export type FixtureTables = Record<TushareApiName, TushareTable>;

export const FIXTURE_DIR = fileURLToPath(new URL("../fixtures/", import.meta.url));

/** Columns kept as strings; every other column is a number (empty -> null). */
const TEXT_COLUMNS = new Set(["ts_code", "trade_date", "exchange", "cal_date", "pretrade_date", "ann_date", "end_date"]);

function table(file: string, fields: readonly string[], allText = false, dir = FIXTURE_DIR): TushareTable {
  const rows = csvObjects(readFileSync(`${dir}${file}`, "utf8"));
  const items = rows.map((r) =>
    fields.map((f) => {
      const v = r[f];
      if (v === undefined) throw new Error(`fixture ${file} has no column ${f}`);
      if (allText || TEXT_COLUMNS.has(f)) return v === "" ? null : v;
      if (v === "") return null;
      const n = Number(v);
      if (!Number.isFinite(n)) throw new Error(`fixture ${file}: ${f}=${JSON.stringify(v)} is not a number`);
      return n;
    }),
  );
  return { fields: [...fields], items };
}

let cached: FixtureTables | undefined;

/** The fixture tables, read once per process. */
export function loadFixture(dir = FIXTURE_DIR): FixtureTables {
  if (cached && dir === FIXTURE_DIR) return cached;
  const t: FixtureTables = {
    daily: table("daily.csv", FIELDS.daily, false, dir),
    trade_cal: table("trade_cal.csv", FIELDS.trade_cal, false, dir),
    stock_basic: table("stock_basic.csv", FIELDS.stock_basic, true, dir),
    fina_indicator: table("fina_indicator.csv", FIELDS.fina_indicator, false, dir),
  };
  if (dir === FIXTURE_DIR) cached = t;
  return t;
}

/** First daily date of the fixture: a service seeding from it backfills from here rather than N years back. */
export function fixtureFirstDate(t: FixtureTables = loadFixture()): string {
  const i = t.daily.fields.indexOf("trade_date");
  return t.daily.items.reduce<string>((min, r) => (String(r[i]) < min ? String(r[i]) : min), "99999999");
}

export class FixtureSource implements TushareApi {
  readonly source = "fixture" as const;
  constructor(private readonly tables: FixtureTables = loadFixture()) {}
  async query(api: string, params: TushareParams, fields?: readonly string[]): Promise<TushareTable> {
    return answerQuery(this.tables, api, params, fields);
  }
}
