/**
 * Issue 11 against the REAL daemon: a fleet (harness: own ops dir, own uids) runs the plan's five profile names on the
 * prefab tier; `hermes-admin prometheus config --out DIR` writes the config an existing Prometheus would use; Debian's
 * `prometheus` scrapes the daemon's /metrics and every profile's /p/<name>/metrics through the file_sd file the daemon
 * keeps, with the metrics-only scrape token. After queries through the front door it reads hermes_query_total per
 * profile, and a real crash loop (the profile's process killed until the supervisor gives up) raises the alert's
 * expression. Only the intervals are shortened (15 s -> 1 s) so the test takes seconds.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseEnv } from "@twilight/core";
import { parse, stringify } from "yaml";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";
import { type RunningPrometheus, startPrometheus } from "./prometheus-runner.js";

const PLAN = ["test-basic-1", "test-basic-2", "test-parallel-1", "test-container-1", "test-upgrade-1"];
const HAVE_PROMETHEUS = existsSync("/usr/bin/prometheus");

interface Row {
  name: string;
  status: string;
  pid: number | null;
  profile_path: string;
  restart_count: number;
}

/** A port range of 100 of our own (random, so parallel test fleets on this host rarely meet). */
function portRange(): string {
  const base = 21000 + Math.floor(Math.random() * 80) * 100;
  return `${base}-${base + 99}`;
}

function alertExpr(name: string): string {
  const rules = new URL("../../../deploy/prometheus/rules/twilight.rules.yml", import.meta.url);
  const doc = parse(readFileSync(rules, "utf8")) as { groups: Array<{ rules: Array<{ alert?: string; expr: string }> }> };
  const rule = doc.groups.flatMap((g) => g.rules).find((r) => r.alert === name);
  assert.ok(rule, name);
  return rule.expr;
}

describe("Prometheus scrapes the real fleet daemon (five prefab profiles)", { skip: !HAVE_PROMETHEUS }, () => {
  let h: FleetHarness;
  let prom: RunningPrometheus;
  const dir = mkdtempSync(join(tmpdir(), "twilight-prom-daemon-"));
  const list = () => h.cliJson<{ profiles: Row[] }>(["list", "--no-stats"]).profiles;

  before(async () => {
    h = await fleetHarness({
      FLEET_RESTART_BASE_MS: "50",
      FLEET_RESTART_MAX_TRIES: "3",
      FLEET_HEALTH_INTERVAL_MS: "500",
      FLEET_MODEL_BASE_URL: "http://127.0.0.1:9/v1", // nothing listens: a query fails fast, and still counts
      FLEET_PORT_RANGE: portRange(), // not the harness' shared default: other fleets' tests may run meanwhile
    });
    await h.startDaemon();
    const t0 = Date.now();
    for (const n of PLAN) {
      const r = h.cli(["spawn", n, "--tier", "prefab"]);
      assert.equal(r.code, 0, r.stderr);
    }
    console.log(`five prefab profiles spawned in ${Date.now() - t0} ms`);
    const cfg = h.cliJson<{ written: string[]; token_file: string; targets_file: string }>([
      "prometheus",
      "config",
      "--out",
      dir,
    ]);
    assert.ok(cfg.written.some((p) => p.endsWith("prometheus.yml")));
    const targets = JSON.parse(readFileSync(cfg.targets_file, "utf8")) as Array<{ labels: { profile: string } }>;
    assert.deepEqual(targets.map((t) => t.labels.profile).sort(), [...PLAN].sort(), "the daemon keeps file_sd current");
    // shorten the intervals only; everything else is the generated config
    const yml = parse(readFileSync(join(dir, "prometheus.yml"), "utf8")) as {
      global: Record<string, string>;
      scrape_configs: Array<{ file_sd_configs?: Array<{ refresh_interval?: string }> }>;
    };
    yml.global.scrape_interval = "1s";
    yml.global.evaluation_interval = "1s";
    for (const j of yml.scrape_configs) for (const f of j.file_sd_configs ?? []) f.refresh_interval = "2s";
    writeFileSync(join(dir, "prometheus.yml"), stringify(yml));
    prom = await startPrometheus({ dir });
  });

  after(async () => {
    await prom?.stop();
    await h?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("scrapes the daemon and the five profiles twice, all up, with the scrape token only", async () => {
    const t0 = Date.now();
    const up = await prom.waitFor(
      "two scrapes of the fleet and five profiles",
      async () => {
        const r = await prom.query("count_over_time(up[5m]) >= 2 and on (instance, job) up == 1");
        return r.length >= 6 ? r : undefined;
      },
      60_000,
    );
    console.log(`two good scrapes of ${up.length} targets after ${Date.now() - t0} ms`);
    const profiles = up.filter((s) => s.metric.job === "hermes-profiles").map((s) => s.metric.profile);
    assert.deepEqual(profiles.sort(), [...PLAN].sort());
    // the scrape token reads metrics and nothing else
    const token = readFileSync(join(h.ops, "prometheus", "scrape-token"), "utf8").trim();
    const auth = { authorization: `Bearer ${token}` };
    assert.equal((await fetch(`${h.url}/v1/profiles`, { headers: auth })).status, 403);
    assert.equal((await fetch(`${h.url}/p/test-basic-1/v1/models`, { headers: auth })).status, 403);
    assert.equal((await fetch(`${h.url}/p/test-basic-1/metrics`, { headers: auth })).status, 200);
  });

  it("reads hermes_query_total per profile after queries through the front door, plus the fleet series", async () => {
    const rows = list();
    for (const [i, name] of PLAN.entries()) {
      const row = rows.find((r) => r.name === name) as Row;
      const key = parseEnv(readFileSync(join(row.profile_path, ".env"), "utf8")).API_SERVER_KEY;
      for (let q = 0; q <= i; q++) {
        const res = await fetch(`${h.url}/p/${name}/v1/chat/completions`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ messages: [{ role: "user", content: `ping ${q}` }] }),
          signal: AbortSignal.timeout(60_000),
        });
        await res.arrayBuffer();
      }
    }
    const t0 = Date.now();
    const byProfile = await prom.waitFor(
      "hermes_query_total per profile",
      async () => {
        const r = await prom.query('hermes_query_total{job="hermes-profiles"}');
        const m = new Map(r.map((s) => [s.metric.profile, Number(s.value[1])]));
        return PLAN.every((n, i) => m.get(n) === i + 1) ? m : undefined;
      },
      30_000,
    );
    console.log(`hermes_query_total per profile ${JSON.stringify(Object.fromEntries(byProfile))} (${Date.now() - t0} ms)`);
    const fleet = await prom.query('sum(twilight_profiles{job="twilight-fleet",status="running"})');
    assert.equal(fleet[0]?.value[1], "5");
    // the fleet is its own scrape job: its latest sample may predate the profiles' one that the wait above saw
    let fdSeen: string | undefined;
    await prom
      .waitFor(
        "the front door's count of test-upgrade-1",
        async () => {
          const fd = await prom.query(
            'sum by (profile) (twilight_frontdoor_request_duration_seconds_count{job="twilight-fleet",profile="test-upgrade-1"})',
          );
          fdSeen = fd[0]?.value[1];
          return fdSeen === "5" ? true : undefined;
        },
        30_000,
      )
      .catch(() => undefined);
    assert.equal(fdSeen, "5", "the front door counted the five queries of test-upgrade-1");
    const spawns = await prom.query('sum(twilight_profile_spawn_duration_seconds_count{outcome="ok"})');
    assert.equal(spawns[0]?.value[1], "5");
    const health = await prom.query("sum(twilight_profile_healthy)");
    assert.equal(health[0]?.value[1], "5", "the supervisor's health probes are recorded");
  });

  it("a real crash loop raises the ProfileCrashLooping expression and ProfileDown", async () => {
    const expr = alertExpr("ProfileCrashLooping");
    assert.deepEqual(await prom.query(expr), []);
    const victim = "test-basic-2";
    const t0 = Date.now();
    let lastPid = 0;
    for (let round = 0; round < 10; round++) {
      const row = await eventually(
        () => {
          const r = list().find((p) => p.name === victim);
          return r && (r.status === "error" || (r.pid && r.pid !== lastPid && r.status !== "stopped")) ? r : undefined;
        },
        20_000,
        `${victim} restarted or in error`,
      );
      if (row.status === "error") break;
      lastPid = row.pid as number;
      try {
        process.kill(lastPid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    const hit = await prom.waitFor(
      "the crash-loop expression",
      async () => {
        const r = await prom.query(expr);
        return r.length > 0 ? r : undefined;
      },
      30_000,
    );
    assert.deepEqual(
      hit.map((s) => s.metric.profile),
      [victim],
    );
    console.log(`crash loop (process killed until the supervisor gave up) -> expression true in ${Date.now() - t0} ms`);
    const down = await prom.waitFor(
      "ProfileDown's expression",
      async () => {
        const r = await prom.query(alertExpr("ProfileDown"));
        return r.some((s) => s.metric.profile === victim) ? r : undefined;
      },
      30_000,
    );
    assert.ok(down.length >= 1);
  });
});
