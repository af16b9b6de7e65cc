import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { APP_DIR, fleetConfig } from "./config.js";
import { daemonFilePaths } from "./lib/daemon-files.js";

describe("fleet config", () => {
  it("resolves the ops files from TWILIGHT_OPS_DIR by the same rule the CLI uses before it loads the config", () => {
    for (const env of [
      {},
      { TWILIGHT_OPS_DIR: "/srv/twl-ops" },
      { TWILIGHT_OPS_DIR: "relative/ops", FLEET_PID_FILE: "/run/fleet-b.pid" },
    ]) {
      const c = fleetConfig(env);
      const f = daemonFilePaths(env);
      assert.deepEqual(f, { opsDir: c.opsDir, pidFile: c.pidFile, adminTokenFile: c.adminTokenFile });
    }
    assert.equal(fleetConfig({}).opsDir, join(APP_DIR, "ops"));
    assert.equal(fleetConfig({ TWILIGHT_OPS_DIR: "/srv/o" }).pidFile, "/srv/o/fleet.pid");
  });

  it("fails fast, naming each bad variable", () => {
    assert.throws(
      () => fleetConfig({ FLEET_PID_FILE: "" }),
      (e: Error & { code?: string }) => {
        assert.equal(e.code, "CONFIG_INVALID");
        assert.match(e.message, /FLEET_PID_FILE/);
        return true;
      },
    );
    assert.equal(daemonFilePaths({ FLEET_PID_FILE: "" }), undefined, "the CLI does not guess where the config refuses");
    assert.throws(() => fleetConfig({ FLEET_API_PORT: "http" }), /FLEET_API_PORT/);
    assert.throws(() => fleetConfig({ FLEET_UID_RANGE: "30000-20000" }), /FLEET_UID_RANGE: expected LOW-HIGH/);
    assert.throws(() => fleetConfig({ FLEET_MCP_UID: "20005" }), /FLEET_MCP_UID must be outside FLEET_UID_RANGE/);
  });
});
