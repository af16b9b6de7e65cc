import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadProfile, parseProfileConfig, resolveVars } from "./profile.js";

const TEMPLATE_RENDERED = `
model:
  provider: offline
  default: twilight-offline
  base_url:
  api_key: \${SILICONFLOW_API_KEY}
  context_length: 32768
  timeout_seconds: 60
mcp_servers:
  tushare:
    url: http://127.0.0.1:9100/mcp
    headers:
      Authorization: Bearer \${MCP_TUSHARE_TOKEN}
    timeout: 30
    connect_timeout: 10
    enabled: true
api_server:
  host: 127.0.0.1
  port: 18001
cite:
  keys_file: /run/twilight/cite-keys.json
  max_age_seconds: 600
twilight:
  profile: alice
  tier: prefab
  generation: 4
  plan: pro
`;

describe("profile loading", () => {
  it("resolves ${VAR} from the environment and reports missing names (not values)", () => {
    const missing = new Set<string>();
    const out = resolveVars({ a: "Bearer ${T}", b: ["${X}", 3], c: "${NOPE}" }, { T: "tok", X: "x" }, missing);
    assert.deepEqual(out, { a: "Bearer tok", b: ["x", 3], c: "" });
    assert.deepEqual([...missing], ["NOPE"]);
  });

  it("parses a rendered template with defaults for what it leaves out", () => {
    const { config, missing } = parseProfileConfig(TEMPLATE_RENDERED, {
      MCP_TUSHARE_TOKEN: "tmcp_1",
      SILICONFLOW_API_KEY: "sk-1",
    });
    assert.deepEqual(missing, []);
    assert.equal(config.model.provider, "offline");
    assert.equal(config.model.base_url, undefined);
    assert.equal(config.model.max_retries, 2);
    assert.equal(config.mcp_servers.tushare?.headers.Authorization, "Bearer tmcp_1");
    assert.equal(config.twilight.generation, 4);
    assert.equal(config.cite.keys_file, "/run/twilight/cite-keys.json");
  });

  it("fails fast with the key path on a bad value", () => {
    assert.throws(() => parseProfileConfig("mcp_servers:\n  x:\n    url: not-a-url\n", {}), /mcp_servers\.x\.url/);
    assert.throws(() => parseProfileConfig("model: [\n", {}), /not valid YAML/);
  });

  it("reads .env from HERMES_HOME; the process environment wins", () => {
    const dir = mkdtempSync(join(tmpdir(), "twl-profile-"));
    try {
      writeFileSync(join(dir, ".env"), "API_SERVER_KEY=hk_from_env_file\nAPI_SERVER_PORT=18001\nMCP_TUSHARE_TOKEN=tmcp_file\n");
      writeFileSync(join(dir, "config.yaml"), TEMPLATE_RENDERED);
      const p = loadProfile({ HERMES_HOME: dir, API_SERVER_PORT: "18999" });
      assert.equal(p.port, 18999);
      assert.equal(p.apiKey, "hk_from_env_file");
      assert.equal(p.name, "alice");
      assert.equal(p.generation, 4);
      assert.equal(p.standby, false);
      assert.equal(p.config.mcp_servers.tushare?.headers.Authorization, "Bearer tmcp_file");
      assert.deepEqual(p.missing, ["SILICONFLOW_API_KEY"]);
      const q = loadProfile({ MCP_TUSHARE_TOKEN: "tmcp_proc", TWILIGHT_STANDBY: "1" }, dir);
      assert.equal(q.config.mcp_servers.tushare?.headers.Authorization, "Bearer tmcp_proc");
      assert.equal(q.standby, true);
      assert.equal(q.home, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads the secrets from HERMES_ENV_FILE instead of HERMES_HOME/.env (the swarm tier's Docker secret)", () => {
    const dir = mkdtempSync(join(tmpdir(), "twl-profile-"));
    try {
      writeFileSync(join(dir, ".env"), "API_SERVER_KEY=hk_stale_dir_copy\n");
      writeFileSync(join(dir, "secret.env"), "API_SERVER_KEY=hk_from_secret\nMCP_TUSHARE_TOKEN=tmcp_secret\n");
      writeFileSync(join(dir, "config.yaml"), TEMPLATE_RENDERED);
      const p = loadProfile({ HERMES_HOME: dir, HERMES_ENV_FILE: join(dir, "secret.env") });
      assert.equal(p.apiKey, "hk_from_secret");
      assert.equal(p.config.mcp_servers.tushare?.headers.Authorization, "Bearer tmcp_secret");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start without an API key", () => {
    const dir = mkdtempSync(join(tmpdir(), "twl-profile-"));
    try {
      writeFileSync(join(dir, "config.yaml"), TEMPLATE_RENDERED);
      assert.throws(() => loadProfile({ HERMES_HOME: dir }), /API_SERVER_KEY/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
