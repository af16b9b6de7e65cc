/**
 * deploy/grafana/twilight.json is a valid dashboard and every PromQL expression in it (and in the alert rules) names
 * metrics that exist: the fleet's (from fleetMetrics), the agent's and the data service's (read from their metrics.ts,
 * as no workspace imports another), and Prometheus' own (up, ALERTS, scrape_*).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { collectDefaultMetrics, Registry } from "prom-client";
import { parse } from "yaml";
import { fleetMetrics } from "../metrics.js";
import { metricNamesIn } from "./promql-names.js";

const ROOT = new URL("../../../", import.meta.url);
const read = (rel: string) => readFileSync(new URL(rel, ROOT), "utf8");

/** Series names a prom-client source file declares: `new Counter|Gauge|Histogram({ name: "..." })`. */
function declared(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(
    /new (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\{\s*name:\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"/g,
  )) {
    const [, type, name] = m as unknown as [string, string, string];
    out.push(name);
    if (type === "Histogram") out.push(`${name}_bucket`, `${name}_sum`, `${name}_count`);
    if (type === "Summary") out.push(`${name}_sum`, `${name}_count`);
  }
  return out;
}

async function processMetricNames(prefix = ""): Promise<string[]> {
  const r = new Registry();
  collectDefaultMetrics({ register: r, prefix });
  const out: string[] = [];
  for (const m of await r.getMetricsAsJSON()) {
    out.push(m.name);
    if (String(m.type) === "histogram") out.push(`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`);
  }
  return out;
}

async function knownMetrics(): Promise<Set<string>> {
  const known = new Set(["up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"]);
  const fleet = fleetMetrics({ opsDir: "/" });
  for (const m of await fleet.registry.getMetricsAsJSON()) {
    known.add(m.name);
    if (String(m.type) === "histogram") for (const s of ["_bucket", "_sum", "_count"]) known.add(m.name + s);
  }
  for (const file of ["agent/src/metrics.ts", "mcp/tushare/src/metrics.ts"]) {
    const src = read(file);
    const names = declared(src);
    assert.ok(names.length >= 3, `${file} declares metrics`);
    for (const n of names) known.add(n);
    if (/collectDefaultMetrics\(\{ register: this\.registry[ ,]/.test(src))
      for (const n of await processMetricNames()) known.add(n);
  }
  return known;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Array<{ refId: string; expr: string }>;
}

describe("Grafana dashboard", () => {
  const dash = JSON.parse(read("deploy/grafana/twilight.json")) as {
    uid: string;
    title: string;
    schemaVersion: number;
    panels: Panel[];
    templating: { list: Array<{ name: string; type: string; query?: unknown; multi?: boolean; includeAll?: boolean }> };
    annotations?: { list: Array<{ expr?: string }> };
  };

  it("is dashboard JSON Grafana imports: uid, title, schema, unique ids, panels on the 24-column grid", () => {
    assert.match(dash.uid, /^[a-zA-Z0-9_-]{1,40}$/);
    assert.ok(dash.title && dash.schemaVersion >= 30);
    const ids = dash.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, "panel ids are unique");
    for (const p of dash.panels) {
      assert.ok(["row", "stat", "timeseries", "table"].includes(p.type), `${p.title}: ${p.type}`);
      assert.ok(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title} fits the grid`);
      if (p.type === "row") continue;
      assert.ok(p.targets?.length, `${p.title} has queries`);
      const refs = p.targets.map((t) => t.refId);
      assert.equal(new Set(refs).size, refs.length, `${p.title} refIds are unique`);
    }
  });

  it("has a fleet overview and a per-profile drill-down driven by the `profile` variable", () => {
    const v = dash.templating.list.find((x) => x.name === "profile");
    assert.ok(v && v.type === "query" && v.multi && v.includeAll);
    assert.ok(dash.templating.list.some((x) => x.name === "datasource" && x.type === "datasource"));
    const rows = dash.panels.filter((p) => p.type === "row").map((p) => p.title);
    assert.deepEqual(rows, ["Fleet overview", "Profile: $profile", "Data service"]);
    const start = dash.panels.findIndex((p) => p.title === "Profile: $profile");
    const end = dash.panels.findIndex((p) => p.title === "Data service");
    for (const p of dash.panels.slice(start + 1, end))
      for (const t of p.targets ?? []) assert.match(t.expr, /profile=~"\$profile"/, `${p.title} filters by $profile`);
  });

  it("every query names metrics the fleet, agent or data service registries expose", async () => {
    const known = await knownMetrics();
    const exprs = [
      ...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr }))),
      ...(dash.annotations?.list ?? []).flatMap((a) => (a.expr ? [{ where: "annotation", expr: a.expr }] : [])),
      { where: "profile variable", expr: "twilight_profile_info" },
    ];
    assert.ok(exprs.length > 40);
    for (const { where, expr } of exprs) {
      const names = metricNamesIn(expr);
      assert.ok(names.length > 0 || /^vector\(/.test(expr), `${where}: no metric in ${expr}`);
      for (const n of names) assert.ok(known.has(n), `${where}: ${n} is not exposed by any registry (${expr})`);
    }
  });

  it("so does every alert rule", async () => {
    const known = await knownMetrics();
    const rules = parse(read("deploy/prometheus/rules/twilight.rules.yml")) as {
      groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
    };
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      const names = metricNamesIn(r.expr);
      assert.ok(names.length > 0, r.alert);
      for (const n of names) assert.ok(known.has(n), `${r.alert}: ${n} is not exposed by any registry`);
    }
  });
});
