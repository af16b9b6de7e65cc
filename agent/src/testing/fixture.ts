/** TEST SUPPORT: a few real rows of /work/shared/data/ashare (daily, fina_indicator, stock_basic) in the core shapes. */
import type { DailyBar, Fundamentals, StockBasic } from "@twilight/core";

const bar = (r: string): DailyBar => {
  const [ts_code, trade_date, open, high, low, close, pre_close, change, pct_chg, vol, amount] = r.split(",");
  const n = Number;
  return {
    ts_code: ts_code as string,
    trade_date: trade_date as string,
    open: n(open),
    high: n(high),
    low: n(low),
    close: n(close),
    pre_close: n(pre_close),
    change: n(change),
    pct_chg: n(pct_chg),
    vol: n(vol),
    amount: n(amount),
  };
};

export const BARS: DailyBar[] = [
  "000858.SZ,20241230,142.02,143.17,141.0,141.21,142.52,-1.31,-0.9192,163671.8,2320655.24",
  "000858.SZ,20241231,141.22,143.6,140.01,140.04,141.21,-1.17,-0.8286,245218.67,3472955.734",
  "000858.SZ,20251230,107.9,107.99,107.02,107.36,108.06,-0.70,-0.6478,158470.27,1700875.91",
  "000858.SZ,20251231,107.19,107.25,105.61,105.94,107.36,-1.42,-1.3227,208676.82,2214652.658",
  "600519.SH,20241230,1533.97,1543.96,1525.0,1525.0,1528.97,-3.97,-0.2597,25129.82,3849542.65",
  "600519.SH,20241231,1525.4,1545.0,1522.01,1524.0,1525.0,-1.00,-0.0656,39354.45,6033540.366",
  "600519.SH,20251230,1401.0,1401.9,1386.0,1389.72,1402.0,-12.28,-0.8759,33791.94,4702489.81",
  "600519.SH,20251231,1390.0,1394.0,1377.17,1377.18,1389.72,-12.54,-0.9023,34765.63,4799456.452",
].map(bar);

const fund = (o: Partial<Fundamentals> & { ts_code: string; end_date: string }): Fundamentals => ({
  ann_date: null,
  eps: null,
  dt_eps: null,
  roe: null,
  roe_dt: null,
  roa: null,
  grossprofit_margin: null,
  netprofit_yoy: null,
  or_yoy: null,
  debt_to_assets: null,
  current_ratio: null,
  quick_ratio: null,
  bps: null,
  profit_dedt: null,
  ...o,
});

export const FUNDAMENTALS: Fundamentals[] = [
  fund({
    ts_code: "000858.SZ",
    end_date: "20240930",
    ann_date: "20241031",
    dt_eps: 6.423,
    roe: 18.7506,
    grossprofit_margin: 77.0591,
    netprofit_yoy: 9.1878,
    debt_to_assets: 18.9864,
    bps: 35.1303,
  }),
  fund({
    ts_code: "000858.SZ",
    end_date: "20241231",
    ann_date: "20250426",
    dt_eps: 8.2062,
    roe: 24.2374,
    roe_dt: 24.1527,
    roa: 23.3699,
    grossprofit_margin: 77.0548,
    netprofit_yoy: 5.4371,
    or_yoy: 7.0889,
    debt_to_assets: 27.5468,
    current_ratio: 3.249,
    quick_ratio: 2.8916,
    bps: 34.3376,
    profit_dedt: 31741959276.27,
  }),
  fund({
    ts_code: "600519.SH",
    end_date: "20241231",
    ann_date: "20250403",
    dt_eps: 68.64,
    roe: 38.4283,
    roe_dt: 38.434,
    roa: 41.346,
    grossprofit_margin: 91.9312,
    netprofit_yoy: 15.38,
    or_yoy: 15.712,
    debt_to_assets: 19.0448,
    current_ratio: 4.4541,
    quick_ratio: 3.4925,
    bps: 185.5647,
    profit_dedt: 86240905977.42,
  }),
];

export const STOCKS: StockBasic[] = [
  {
    ts_code: "000858.SZ",
    symbol: "000858",
    name: "五粮液",
    area: "四川",
    industry: "白酒",
    market: "主板",
    list_date: "19980427",
  },
  {
    ts_code: "600519.SH",
    symbol: "600519",
    name: "贵州茅台",
    area: "贵州",
    industry: "白酒",
    market: "主板",
    list_date: "20010827",
  },
];
