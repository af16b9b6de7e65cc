import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadSkillProfile } from "./profile.js";

const CONFIG = `
mcp_servers:
  other:
    url: http://127.0.0.1:9200/mcp
  tushare:
    url: http://127.0.0.1:9100/mcp
    headers:
      Authorization: Bearer \${MCP_TUSHARE_TOKEN}
    timeout: 5
cite:
  keys_file: cite-keys.json
  max_age_seconds: 300
twilight:
  profile: bob
`;

describe("stock-research commands: the profile", () => {
  it("reads the data service, token, keys and profile name from HERMES_HOME", () => {
    const dir = mkdtempSync(join(tmpdir(), "twl-skill-"));
    try {
      writeFileSync(join(dir, "config.yaml"), CONFIG);
      writeFileSync(join(dir, ".env"), "MCP_TUSHARE_TOKEN=tmcp_file\n");
      const p = loadSkillProfile({ HERMES_HOME: dir });
      assert.deepEqual(
        [p.profile, p.server, p.url, p.headers.Authorization, p.timeoutMs, p.maxAgeMs],
        ["bob", "tushare", "http://127.0.0.1:9100/mcp", "Bearer tmcp_file", 5000, 300_000],
      );
      assert.equal(p.keysFile, join(dir, "cite-keys.json"));
      assert.equal(
        loadSkillProfile({ HERMES_HOME: dir, MCP_TUSHARE_TOKEN: "tmcp_env" }).headers.Authorization,
        "Bearer tmcp_env",
      );
      assert.equal(loadSkillProfile({ HERMES_HOME: dir, TWILIGHT_MCP_SERVER: "other" }).url, "http://127.0.0.1:9200/mcp");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("fails clearly without a data service or a profile name", () => {
    const dir = mkdtempSync(join(tmpdir(), "twl-skill-"));
    try {
      writeFileSync(join(dir, "config.yaml"), "twilight:\n  profile: bob\n");
      assert.throws(() => loadSkillProfile({ HERMES_HOME: dir }), /no enabled mcp_servers/);
      writeFileSync(join(dir, "config.yaml"), "mcp_servers:\n  t:\n    url: http://x/mcp\n");
      assert.throws(() => loadSkillProfile({ HERMES_HOME: dir }), /profile name unknown/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
