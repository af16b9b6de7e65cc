/**
 * A real Prometheus (Debian's package) on loopback scrapes a stand-in fleet through the generated config: the fleet's
 * /metrics and the five plan profiles' /p/<name>/metrics via file_sd, both with the scrape token only. It reads the
 * profiles' query counters per profile through the HTTP API and sees a crash loop raise the alert.
 * The stand-in fleet mounts the real scrape path (`handleScrape`) over the real fleet registry; each stand-in profile
 * serves the contract's metric names behind its own API key. The lead's daemon test can swap them for `startDaemon`.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Counter, Histogram, Registry } from "prom-client";
import { parse } from "yaml";
import { fleetMetrics, recordCrash, syncProfiles } from "../metrics.js";
import { buildFileSd, renderFileSd } from "./file-sd.js";
import { writeBundle } from "./files.js";
import { prometheusBundle } from "./prometheus-config.js";
import { type RunningPrometheus, startPrometheus } from "./prometheus-runner.js";
import { newScrapeToken } from "./scrape-auth.js";
import { handleScrape } from "./scrape-handler.js";

const RULES = new URL("../../../deploy/prometheus/rules/twilight.rules.yml", import.meta.url);
const PLAN = [
  { name: "test-basic-1", tier: "prefab" },
  { name: "test-basic-2", tier: "prefab" },
  { name: "test-parallel-1", tier: "prefab" },
  { name: "test-container-1", tier: "container" },
  { name: "test-upgrade-1", tier: "container" },
];

function profileRegistry(label: string) {
  const registry = new Registry();
  const queries = new Counter({ name: "hermes_query_total", help: "q", labelNames: ["profile"], registers: [registry] });
  new Histogram({ name: "hermes_query_duration_seconds", help: "d", labelNames: ["profile"], registers: [registry] });
  const cites = new Counter({
    name: "hermes_cite_verification_failures_total",
    help: "c",
    labelNames: ["profile", "reason"],
    registers: [registry],
  });
  cites.inc({ profile: label, reason: "bad_signature" }, 0);
  queries.inc({ profile: label }, 0); // as the agent does: series exist before the first query
  return { registry, queries, label };
}

function alertExpr(name: string): string {
  const doc = parse(readFileSync(RULES, "utf8")) as { groups: Array<{ rules: Array<{ alert?: string; expr: string }> }> };
  const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === name);
  assert.ok(rule, name);
  return rule.expr;
}

describe("Prometheus scrapes the fleet and its profiles (real prometheus on loopback)", () => {
  const dir = mkdtempSync(join(tmpdir(), "twilight-prom-"));
  const token = newScrapeToken();
  const fleet = fleetMetrics({ opsDir: dir });
  const rows = PLAN.map((p) => ({ ...p, status: "running", desired_state: "running", restart_count: 0 }));
  // test-parallel-1 lies about its own label: the fleet's target label must win.
  const profiles = new Map(PLAN.map((p) => [p.name, profileRegistry(p.name === "test-parallel-1" ? "test-basic-1" : p.name)]));
  const refused: string[] = [];
  let server: Server;
  let prom: RunningPrometheus;
  let fleetAddress = "";

  const profileServers: Server[] = [];
  const targets = new Map<string, { port: number; apiKey: string }>();

  before(async () => {
    syncProfiles(fleet, rows);
    // Each profile serves /metrics behind its own API key, as agent/src/server.ts does.
    for (const [name, p] of profiles) {
      const apiKey = `key-${name}`;
      const s = createServer((req, res) => {
        void (async () => {
          if (req.headers.authorization !== `Bearer ${apiKey}` || req.url !== "/metrics") {
            refused.push(`${name}: ${req.method} ${req.url}`);
            return void res.writeHead(401).end();
          }
          res.writeHead(200, { "content-type": p.registry.contentType }).end(await p.registry.metrics());
        })();
      });
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
      profileServers.push(s);
      targets.set(name, { port: (s.address() as AddressInfo).port, apiKey });
    }
    // The fleet: the scrape path first (as the daemon will mount it), everything else refused.
    server = createServer((req, res) => {
      void (async () => {
        const handled = await handleScrape(req, res, {
          scrapeToken: token,
          fleetMetrics: async () => ({ contentType: fleet.registry.contentType, body: await fleet.registry.metrics() }),
          profileTarget: async (name) => targets.get(name),
        });
        if (handled) return;
        refused.push(`fleet: ${req.method} ${req.url}`);
        res.writeHead(401).end();
      })();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    fleetAddress = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    writeBundle(
      dir,
      prometheusBundle({
        config: { fleetAddress, dataServiceAddress: null, scrapeInterval: "1s", evaluationInterval: "1s", targetsRefresh: "5s" },
        scrapeToken: token,
        rules: readFileSync(RULES, "utf8"),
        targets: renderFileSd(buildFileSd(rows, { fleetAddress })),
      }),
    );
    const t0 = Date.now();
    prom = await startPrometheus({ dir });
    console.log(`prometheus ${prom.url} (pid ${prom.pid}) ready in ${Date.now() - t0} ms`);
  });

  after(async () => {
    await prom?.stop();
    for (const s of [server, ...profileServers]) if (s) await new Promise<void>((r) => s.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes the fleet and the five profiles at least twice, all up, with the scrape token", async () => {
    const t0 = Date.now();
    const scrapes = await prom.waitFor("two scrapes of every target", async () => {
      const r = await prom.query("count_over_time(up[5m]) >= 2 and on (instance, job) up == 1");
      return r.length === 6 ? r : undefined;
    });
    console.log(`two scrapes of 6 targets after ${Date.now() - t0} ms`);
    assert.deepEqual(scrapes.map((s) => s.metric.instance).sort(), [...PLAN.map((p) => p.name), fleetAddress].sort());
    assert.deepEqual(refused, [], "Prometheus never scraped without the token");
  });

  it("reads hermes_query_total per profile after queries (fleet's profile label wins, tier attached)", async () => {
    PLAN.forEach((p, i) => {
      const reg = profiles.get(p.name);
      reg?.queries.inc({ profile: reg.label }, i + 1);
    });
    const byProfile = await prom.waitFor("query counters", async () => {
      const r = await prom.query("hermes_query_total");
      const m = new Map(r.map((s) => [s.metric.profile, s]));
      return r.length === 5 && PLAN.every((p, i) => Number(m.get(p.name)?.value[1]) === i + 1) ? m : undefined;
    });
    for (const p of PLAN) {
      const s = byProfile.get(p.name);
      assert.equal(s?.metric.tier, p.tier);
      assert.equal(s?.metric.job, "hermes-profiles");
      assert.equal(s?.metric.exported_profile, undefined);
    }
    const fleetSeries = await prom.query('sum(twilight_profiles{job="twilight-fleet"})');
    assert.equal(fleetSeries[0]?.value[1], "5");
    const disk = await prom.query("twilight_ops_filesystem_size_bytes > 0");
    assert.equal(disk.length, 1);
  });

  it("every Grafana panel query and alert expression parses and evaluates in this Prometheus", async () => {
    const dash = JSON.parse(readFileSync(new URL("../../../deploy/grafana/twilight.json", import.meta.url), "utf8")) as {
      panels: Array<{ title: string; targets?: Array<{ expr: string }> }>;
    };
    const rules = parse(readFileSync(RULES, "utf8")) as { groups: Array<{ rules: Array<{ expr: string }> }> };
    const exprs = [
      ...dash.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr.replaceAll("$profile", ".+"))),
      ...rules.groups.flatMap((g) => g.rules.map((r) => r.expr)),
    ];
    for (const expr of exprs) await assert.doesNotReject(prom.query(expr), expr);
    const rows = await prom.query(dash.panels.find((p) => p.title === "Profiles")?.targets?.[2]?.expr ?? "");
    assert.equal(rows.length, 5, "the fleet table's query-rate column has every profile");
  });

  it("a crash loop raises the ProfileCrashLooping expression and the alert fires", async () => {
    const expr = alertExpr("ProfileCrashLooping");
    assert.deepEqual(await prom.query(expr), []);
    const t0 = Date.now();
    for (let attempt = 1; attempt <= 3; attempt++)
      recordCrash(fleet, "test-upgrade-1", { action: "restart", delayMs: 1000 * 2 ** attempt, attempt });
    const hit = await prom.waitFor("the crash-loop expression", async () => {
      const r = await prom.query(expr);
      return r.length > 0 ? r : undefined;
    });
    assert.deepEqual(
      hit.map((s) => s.metric.profile),
      ["test-upgrade-1"],
    );
    await prom.waitFor("the alert to fire", async () =>
      (await prom.alerts()).some(
        (a) => a.labels.alertname === "ProfileCrashLooping" && a.labels.profile === "test-upgrade-1" && a.state === "firing",
      )
        ? true
        : undefined,
    );
    console.log(`crash loop recorded -> alert firing in ${Date.now() - t0} ms`);
  });
});
