import assert from "node:assert/strict";
import { test } from "node:test";
import { isDomainError } from "@twilight/core";
import { loadBillingConfig } from "./config.js";

test("configuration fails fast, naming each bad variable", () => {
  assert.throws(
    () => loadBillingConfig({ BILLING_PUBLIC_URL: "not a url", WECHATPAY_MCHID: "x", FLEET_TRANSPORT: "ssh" }),
    (e: unknown) => {
      assert.ok(isDomainError(e) && e.code === "CONFIG_INVALID");
      for (const v of ["BILLING_PUBLIC_URL", "WECHATPAY_MCHID", "WECHATPAY_APPID", "BILLING_SECRET_FILE"]) {
        assert.match(e.message, new RegExp(v));
      }
      return true;
    },
  );
});

test("cross-field rules: a way to verify WeChat Pay, and the chosen transport's settings", () => {
  const base = {
    BILLING_PUBLIC_URL: "https://billing.example.com",
    BILLING_SECRET_FILE: "/nonexistent",
    WECHATPAY_MCHID: "1900000109",
    WECHATPAY_APPID: "wxd678efh567hg6787",
    WECHATPAY_MERCHANT_SERIAL: "ABCDEF0123",
    WECHATPAY_MERCHANT_KEY_FILE: "/nonexistent",
    WECHATPAY_APIV3_KEY_FILE: "/nonexistent",
  };
  assert.throws(
    () => loadBillingConfig({ ...base, FLEET_TRANSPORT: "ssh" }),
    (e: unknown) => {
      assert.ok(isDomainError(e));
      assert.match(e.message, /WECHATPAY_PUBLIC_KEY_ID: no way to verify/);
      assert.match(e.message, /FLEET_SSH_HOST/);
      assert.match(e.message, /FLEET_SSH_HOST_KEY_SHA256/);
      return true;
    },
  );
  assert.throws(
    () =>
      loadBillingConfig({
        ...base,
        WECHATPAY_LOAD_CERTIFICATES: "true",
        FLEET_URL: "http://127.0.0.1:1",
        FLEET_KEY_ID: "k",
        FLEET_KEY_SECRET_FILE: "/x",
      }),
    /BILLING_SECRET_FILE: cannot read/,
  );
});
