import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseEnv } from "@twilight/core";
import { parse } from "yaml";
import { APP_DIR } from "../config.js";
import { CONTAINER_API_PORT, modelFor, type RenderInput, renderConfigYaml, renderDotEnv } from "./render.js";

const dir = join(APP_DIR, "profile/template-stock-research-pro");
const tpl = readFileSync(join(dir, "config.yaml.template"), "utf8");
const base: RenderInput = {
  profile: "test-basic-1",
  tier: "prefab",
  generation: 1,
  port: 18701,
  plan: "basic",
  mcpUrl: "http://127.0.0.1:9100/mcp",
  mcpSocket: "/srv/ops/mcp-run/mcp.sock",
  citeKeysFile: "keys/cite-keys.json",
  model: { provider: "offline", baseUrl: "https://api.siliconflow.cn/v1", default: "Qwen/Qwen2.5-72B-Instruct" },
};

test("config.yaml uses Hermes keys and the prefab data-service URL", () => {
  const c = parse(renderConfigYaml(tpl, base));
  assert.equal(c.model.provider, "offline");
  assert.equal(c.model.base_url, "https://api.siliconflow.cn/v1");
  assert.equal(c.model.api_key, "${SILICONFLOW_API_KEY}");
  assert.deepEqual(c.mcp_servers.tushare.url, "http://127.0.0.1:9100/mcp");
  assert.equal(c.mcp_servers.tushare.headers.Authorization, "Bearer ${MCP_TUSHARE_TOKEN}");
  assert.deepEqual(c.api_server, { host: "127.0.0.1", port: 18701 });
  assert.deepEqual(c.twilight, { profile: "test-basic-1", tier: "prefab", generation: 1, plan: "basic" });
});

test("config.yaml for a container names the data service by DNS and listens on all interfaces inside", () => {
  const c = parse(
    renderConfigYaml(tpl, { ...base, tier: "container", generation: 2, mcpUrl: "http://twilight-mcp-tushare:9100/mcp" }),
  );
  assert.equal(c.mcp_servers.tushare.url, "http://twilight-mcp-tushare:9100/mcp");
  assert.deepEqual(c.api_server, { host: "0.0.0.0", port: CONTAINER_API_PORT });
  assert.equal(c.twilight.generation, 2);
});

test("an unknown placeholder is an error, not an empty value", () => {
  assert.throws(() => renderConfigYaml("x: {{nope}}", base), /unknown placeholder \{\{nope\}\}/);
});

test(".env carries identity, port and secrets, and keeps the template's comments", () => {
  const text = renderDotEnv(readFileSync(join(dir, ".env.example"), "utf8"), {
    profile: "test-basic-1",
    port: 18701,
    secrets: { API_SERVER_KEY: "hk_x", MCP_TUSHARE_TOKEN: "tmcp_y" },
  });
  const env = parseEnv(text);
  assert.equal(env.HERMES_PROFILE, "test-basic-1");
  assert.equal(env.API_SERVER_PORT, "18701");
  assert.equal(env.API_SERVER_KEY, "hk_x");
  assert.equal(env.MCP_TUSHARE_TOKEN, "tmcp_y");
  assert.match(text, /^# Per-profile secrets/);
});

test("modelFor: custom points each tier at the model gateway; offline and direct keep the configured URL", () => {
  const gw = { urlPrefab: "http://127.0.0.1:9200/v1", urlContainer: "http://172.30.0.1:9200/v1" };
  const m = { provider: "custom" as const, baseUrl: "https://api.siliconflow.cn/v1", default: "Qwen/Qwen2.5-72B-Instruct" };
  assert.equal(modelFor(m, gw, "prefab").baseUrl, gw.urlPrefab);
  assert.equal(modelFor(m, gw, "container").baseUrl, gw.urlContainer);
  assert.equal(modelFor({ ...m, route: "direct" }, gw, "container").baseUrl, m.baseUrl);
  assert.deepEqual(modelFor({ ...m, provider: "offline" }, gw, "prefab"), { ...m, provider: "offline" });
});
