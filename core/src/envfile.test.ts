import assert from "node:assert/strict";
import { test } from "node:test";
import { parseEnv, renderEnv } from "./envfile.js";

test("renders a template keeping comments and order, quoting where needed", () => {
  const tpl = "# model\nSILICONFLOW_API_KEY=\nAPI_SERVER_PORT=8642\n\n# channel\nWEIXIN_HOME_CHANNEL=\n";
  const out = renderEnv(tpl, { SILICONFLOW_API_KEY: "sk-abc", WEIXIN_HOME_CHANNEL: "room 1", EXTRA: "x" });
  assert.equal(
    out,
    '# model\nSILICONFLOW_API_KEY=sk-abc\nAPI_SERVER_PORT=8642\n\n# channel\nWEIXIN_HOME_CHANNEL="room 1"\nEXTRA=x\n',
  );
  assert.deepEqual(parseEnv(out), {
    SILICONFLOW_API_KEY: "sk-abc",
    API_SERVER_PORT: "8642",
    WEIXIN_HOME_CHANNEL: "room 1",
    EXTRA: "x",
  });
});

test("refuses malformed lines", () => {
  assert.throws(() => parseEnv("NOEQUALS"), /line 1/);
  assert.throws(() => parseEnv("bad-key=1"), /not a valid variable name/);
});
