/**
 * The plan's section 2.1 health checklist as code: (1) the MCP endpoint answers tools/list, (2) the scheduler still
 * refreshes trade_cal, (3) new daily data arrives in r_stock_daily, (4) the /warehouse read routes work.
 * Each item passes or fails with the evidence; `mcp check` exits non-zero when any fails.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TOOLS } from "@twilight/core";
import type { Health } from "./http/health.js";

export const CHECK_ITEMS = ["tools", "scheduler", "daily", "routes"] as const;
export type CheckItemName = (typeof CHECK_ITEMS)[number];

export interface CheckItem {
  name: CheckItemName;
  title: string;
  ok: boolean;
  evidence: string;
}

export interface CheckReport {
  ok: boolean;
  url: string;
  items: CheckItem[];
}

export interface CheckOptions {
  /** Base URL of the service, e.g. http://127.0.0.1:9100. */
  url: string;
  /** A profile's MCP token or the admin token. */
  token: string;
  maxCalAgeHours?: number;
  maxLagDays?: number;
  timeoutMs?: number;
}

const TITLES: Record<CheckItemName, string> = {
  tools: "MCP endpoint answers tools/list",
  scheduler: "scheduler still refreshing trade_cal",
  daily: "new daily data arriving in r_stock_daily",
  routes: "warehouse read routes (/warehouse/*) working",
};

async function checkTools(o: CheckOptions): Promise<string> {
  const client = new Client({ name: "mcp-check", version: "0.1.0" });
  const transport = new StreamableHTTPClientTransport(new URL("/mcp", o.url), {
    requestInit: { headers: { authorization: `Bearer ${o.token}` } },
  });
  try {
    await client.connect(transport, { timeout: o.timeoutMs ?? 10_000 });
    const { tools } = await client.listTools(undefined, { timeout: o.timeoutMs ?? 10_000 });
    const names = tools.map((t) => t.name);
    const missing = Object.values(TOOLS).filter((t) => !names.includes(t));
    if (missing.length) throw new Error(`tools/list answered ${names.length} tools but lacks ${missing.join(", ")}`);
    return `tools/list answered ${names.length} tools: ${names.join(", ")}`;
  } finally {
    await client.close().catch(() => undefined);
  }
}

export function judgeScheduler(h: Health, maxCalAgeHours: number): string {
  const s = h.scheduler;
  if (!s.enabled) throw new Error("the scheduler is disabled (MCP_SCHEDULER=off)");
  if (s.state === "stopped") throw new Error("the scheduler is stopped");
  const age = h.trade_cal.age_seconds;
  if (h.trade_cal.last_refresh === null || age === null) throw new Error("trade_cal was never refreshed");
  const hours = (age / 3600).toFixed(1);
  const last = s.last_run
    ? `last run #${s.last_run.id} ${s.last_run.status}${s.last_run.error ? ` (${s.last_run.error})` : ""}`
    : "no run yet";
  const ev = `trade_cal refreshed ${h.trade_cal.last_refresh} (${hours} h ago, at most ${maxCalAgeHours} h), scheduler ${s.state} from ${s.source}, ${last}, next due ${s.next_due_at ?? "-"}`;
  if (age > maxCalAgeHours * 3600) throw new Error(`stale: ${ev}`);
  return ev;
}

export function judgeDaily(h: Health, maxLagDays: number): string {
  const { newest_trade_date: newest } = h.daily;
  const { expected_trade_date: expected, open_days_behind: behind } = h.data_lag;
  if (newest === null) throw new Error("r_stock_daily is empty");
  if (expected === null || behind === null) throw new Error(`newest bar ${newest}, but trade_cal does not say which day is due`);
  const ev = `newest r_stock_daily trade_date ${newest}, latest due open day ${expected}, ${behind} open day(s) behind (at most ${maxLagDays}), ${h.daily.rows} rows`;
  if (behind > maxLagDays) throw new Error(`lagging: ${ev}`);
  return ev;
}

async function getJson(url: string, token: string | undefined, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* keep the text */
  }
  return { status: res.status, body };
}

const ROUTES = [
  ["daily", "/warehouse/daily?limit=1", true],
  ["trade_cal", "/warehouse/trade_cal?limit=1", true],
  ["fundamentals", "/warehouse/fundamentals?limit=1", false],
  ["stocks", "/warehouse/stocks?limit=1", true],
] as const;

async function checkRoutes(o: CheckOptions): Promise<string> {
  const good: string[] = [];
  const bad: string[] = [];
  for (const [name, path, needRows] of ROUTES) {
    try {
      const r = await getJson(new URL(path, o.url).toString(), o.token, o.timeoutMs ?? 10_000);
      const b = r.body as { rows?: unknown; total?: unknown };
      if (r.status !== 200) bad.push(`${name}: HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 120)}`);
      else if (!Array.isArray(b.rows) || typeof b.total !== "number") bad.push(`${name}: answer is not a page of rows`);
      else if (needRows && b.rows.length === 0) bad.push(`${name}: no rows`);
      else good.push(`${name} 200 (total ${b.total})`);
    } catch (e) {
      bad.push(`${name}: ${(e as Error).message}`);
    }
  }
  if (bad.length) throw new Error(`broken: ${bad.join("; ")}${good.length ? `; working: ${good.join(", ")}` : ""}`);
  return good.join(", ");
}

export async function runCheck(o: CheckOptions): Promise<CheckReport> {
  const items: CheckItem[] = [];
  const item = async (name: CheckItemName, fn: () => Promise<string> | string) => {
    try {
      items.push({ name, title: TITLES[name], ok: true, evidence: await fn() });
    } catch (e) {
      items.push({ name, title: TITLES[name], ok: false, evidence: (e as Error).message });
    }
  };
  await item("tools", () => checkTools(o));
  let health: Health | undefined;
  let healthError = "";
  try {
    const r = await getJson(new URL("/health", o.url).toString(), undefined, o.timeoutMs ?? 10_000);
    if (r.status === 200) health = r.body as Health;
    else healthError = `/health answered HTTP ${r.status}`;
  } catch (e) {
    healthError = `/health unreachable: ${(e as Error).message}`;
  }
  const needHealth = (fn: (h: Health) => string) => () => {
    if (!health) throw new Error(healthError);
    return fn(health);
  };
  await item(
    "scheduler",
    needHealth((h) => judgeScheduler(h, o.maxCalAgeHours ?? 36)),
  );
  await item(
    "daily",
    needHealth((h) => judgeDaily(h, o.maxLagDays ?? 1)),
  );
  await item("routes", () => checkRoutes(o));
  return { ok: items.every((i) => i.ok), url: o.url, items };
}

export function formatCheck(r: CheckReport): string {
  const lines = r.items.map((i) => `${i.ok ? "PASS" : "FAIL"}  ${i.name.padEnd(9)} ${i.title}\n      ${i.evidence}`);
  const failed = r.items.filter((i) => !i.ok).map((i) => i.name);
  lines.push(
    failed.length
      ? `mcp check: ${failed.length} of ${r.items.length} failed (${failed.join(", ")})`
      : `mcp check: all ${r.items.length} passed`,
  );
  return `${lines.join("\n")}\n`;
}
