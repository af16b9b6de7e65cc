import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { JOBS, prometheusBundle, prometheusConfig, prometheusYaml } from "./prometheus-config.js";

const deployDir = new URL("../../../deploy/prometheus/", import.meta.url);

describe("prometheus config", () => {
  it("deploy/prometheus/prometheus.yml is the builder's output with the defaults", () => {
    assert.equal(readFileSync(new URL("prometheus.yml", deployDir), "utf8"), prometheusYaml());
  });

  it("three jobs; the fleet and profiles use the token file, the fleet's profile label wins", () => {
    const c = prometheusConfig({ fleetAddress: "127.0.0.1:18080", tokenFile: "/abs/token", targetsFile: "/abs/t.json" });
    assert.deepEqual(
      c.scrape_configs.map((s) => s.job_name),
      [JOBS.fleet, JOBS.profiles, JOBS.dataService],
    );
    const [fleet, profiles] = c.scrape_configs;
    assert.deepEqual(fleet?.authorization, { type: "Bearer", credentials_file: "/abs/token" });
    assert.deepEqual(profiles?.authorization, { type: "Bearer", credentials_file: "/abs/token" });
    assert.equal(profiles?.honor_labels, false);
    assert.deepEqual(profiles?.file_sd_configs, [{ files: ["/abs/t.json"], refresh_interval: "1m" }]);
    assert.equal(prometheusConfig({ dataServiceAddress: null }).scrape_configs.length, 2);
  });

  it("the YAML has no anchors and parses back to the object", () => {
    const text = prometheusYaml();
    assert.doesNotMatch(text, /[&*]a\d/);
    assert.deepEqual(parse(text), prometheusConfig());
  });

  it("the bundle holds config, rules, a group-readable token and the targets; never the token in the config", () => {
    const files = prometheusBundle({ scrapeToken: "tok-1234567890abcdef", rules: "groups: []\n", targets: "[]\n" });
    assert.deepEqual([...files.keys()].sort(), [
      "prometheus.yml",
      "rules/twilight.rules.yml",
      "secrets/scrape-token",
      "targets/profiles.json",
    ]);
    assert.equal(files.get("secrets/scrape-token")?.mode, 0o640);
    assert.doesNotMatch(files.get("prometheus.yml")?.content ?? "", /tok-1234567890abcdef/);
    const abs = prometheusBundle({
      config: { tokenFile: "/ops/prometheus/scrape-token", targetsFile: "/ops/prometheus/profiles.json" },
      scrapeToken: "t",
      rules: "",
      targets: "[]",
    });
    assert.deepEqual([...abs.keys()].sort(), ["prometheus.yml", "rules/twilight.rules.yml"]);
  });
});
