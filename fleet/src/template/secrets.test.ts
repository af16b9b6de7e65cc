import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { APP_DIR } from "../config.js";
import { buildSecrets, freshSecret, generatedFormat, parseSecretsSchema, randomString, secretsFingerprint } from "./secrets.js";

const schema = parseSecretsSchema(
  JSON.parse(readFileSync(join(APP_DIR, "profile/template-stock-research-pro/secrets.schema.json"), "utf8")),
);

test("the template declares the plan's secrets", () => {
  for (const k of ["SILICONFLOW_API_KEY", "TWILIGHT_API_TOKEN", "API_SERVER_KEY", "MCP_TUSHARE_TOKEN", "WEIXIN_HOME_CHANNEL"]) {
    assert.ok(k in schema.secrets, k);
  }
});

test("generated secrets have the declared prefix, length and alphabet, and differ per profile", () => {
  const a = buildSecrets(schema, {});
  const b = buildSecrets(schema, {});
  assert.match(a.API_SERVER_KEY ?? "", /^hk_[A-Za-z0-9]{37}$/);
  assert.match(a.SILICONFLOW_API_KEY ?? "", /^sk-[A-Za-z0-9]{45}$/);
  assert.match(a.TWILIGHT_API_TOKEN ?? "", /^tw_[A-Za-z0-9_-]{40}$/);
  assert.match(a.MCP_TUSHARE_TOKEN ?? "", /^tmcp_[A-Za-z0-9]{35}$/);
  for (const k of Object.keys(a)) assert.notEqual(a[k], b[k], k);
  assert.equal(a.WEIXIN_HOME_CHANNEL, undefined);
});

test("supplied secrets are checked; unknown keys are refused", () => {
  assert.equal(buildSecrets(schema, { WEIXIN_HOME_CHANNEL: "wx_home-1" }).WEIXIN_HOME_CHANNEL, "wx_home-1");
  assert.throws(() => buildSecrets(schema, { WEIXIN_HOME_CHANNEL: "bad value;" }), /does not match/);
  assert.throws(() => buildSecrets(schema, { NOPE: "1" }), /not a secret this template declares/);
  assert.throws(() => buildSecrets(schema, { constructor: "1" }), /not a secret this template declares/);
});

test("issue 9 item 8: a generated secret can be supplied only in its generated format", () => {
  // before: API_SERVER_KEY=x was accepted as is
  for (const bad of ["x", "hk_short", `hk_${"a".repeat(36)};`, `sk-${"a".repeat(37)}`])
    assert.throws(() => buildSecrets(schema, { API_SERVER_KEY: bad }), /must look generated/, bad);
  const good = `hk_${"A1b2".repeat(9)}x`;
  assert.equal(buildSecrets(schema, { API_SERVER_KEY: good }).API_SERVER_KEY, good);
});

test("randomString is uniform over its alphabet and deterministic for a given source", () => {
  let i = 0;
  const rnd = (n: number) => Buffer.from(Array.from({ length: n }, () => i++ % 256));
  const s = randomString("ab", 8, rnd);
  assert.equal(s, "abababab");
  assert.equal(randomString("0123456789", 1000).length, 1000);
});

test("the fingerprint changes with any value and does not contain it", () => {
  const s = { A: "secret-value-1", B: "x" };
  const f = secretsFingerprint(s);
  assert.match(f, /^[0-9a-f]{64}$/);
  assert.notEqual(f, secretsFingerprint({ ...s, B: "y" }));
  assert.ok(!f.includes("secret-value-1"));
});

test("rotation: a fresh value has the generated format and differs; a supplied secret cannot be rotated", () => {
  for (const key of ["SILICONFLOW_API_KEY", "API_SERVER_KEY"]) {
    const spec = schema.secrets[key];
    assert.ok(spec?.kind === "generated");
    const a = freshSecret(schema, key);
    assert.match(a, generatedFormat(spec));
    assert.notEqual(a, freshSecret(schema, key));
  }
  assert.throws(() => freshSecret(schema, "WEIXIN_TOKEN"), /not a secret the fleet generates/);
  assert.throws(() => freshSecret(schema, "__proto__"), /not a secret the fleet generates/);
});
