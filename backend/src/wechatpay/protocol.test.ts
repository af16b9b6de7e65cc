import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { test } from "node:test";
import { NotifyRefused, verifyNotification } from "../payments/verify.js";
import { PlatformKeys } from "./platform-keys.js";
import {
  buildAuthorization,
  decryptResource,
  encryptResource,
  parseAuthorization,
  requestMessage,
  responseMessage,
  rfc3339Beijing,
  rsaSign,
  rsaVerify,
  signedHeaders,
} from "./protocol.js";

const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const apiV3Key = "0123456789abcdefABCDEF0123456789";

test("signed messages end with a newline after every part", () => {
  assert.equal(requestMessage("post", "/v3/x?a=1", "1", "n", "{}"), "POST\n/v3/x?a=1\n1\nn\n{}\n");
  assert.equal(requestMessage("GET", "/v3/x", "1", "n", ""), "GET\n/v3/x\n1\nn\n\n");
  assert.equal(responseMessage("1", "n", "b"), "1\nn\nb\n");
});

test("the merchant Authorization header round-trips and verifies", () => {
  const h = buildAuthorization({
    mchid: "1900000109",
    serialNo: "ABC123",
    privateKey,
    method: "GET",
    url: "/v3/certificates",
    body: "",
    timestamp: "1700000000",
    nonce: "N",
  });
  assert.match(
    h,
    /^WECHATPAY2-SHA256-RSA2048 mchid="1900000109",nonce_str="N",signature="[A-Za-z0-9+/=]+",timestamp="1700000000",serial_no="ABC123"$/,
  );
  const a = parseAuthorization(h);
  assert.ok(a);
  assert.ok(rsaVerify(requestMessage("GET", "/v3/certificates", a.timestamp, a.nonce_str, ""), a.signature, publicKey));
  assert.equal(parseAuthorization("Bearer x"), undefined);
  assert.equal(parseAuthorization('WECHATPAY2-SHA256-RSA2048 mchid="1"'), undefined);
});

test("AEAD_AES_256_GCM resources: round trip; tampering, wrong key or wrong AAD fail", () => {
  const r = encryptResource('{"a":1}', apiV3Key, "transaction");
  assert.equal(r.nonce.length, 12);
  assert.equal(Buffer.from(r.ciphertext, "base64").length, 7 + 16, "ciphertext || 16-byte tag");
  assert.equal(decryptResource(r, apiV3Key), '{"a":1}');
  assert.throws(() => decryptResource({ ...r, associated_data: "certificate" }, apiV3Key));
  assert.throws(() => decryptResource(r, "x".repeat(32)));
  const b = Buffer.from(r.ciphertext, "base64");
  b[0] = (b[0] ?? 0) ^ 1;
  assert.throws(() => decryptResource({ ...r, ciphertext: b.toString("base64") }, apiV3Key));
});

test("Beijing time in RFC 3339", () => {
  assert.equal(rfc3339Beijing(Date.UTC(2026, 11, 1, 10, 0, 0)), "2026-12-01T18:00:00+08:00");
});

test("notification verification refuses in order: headers, window, serial, signature", () => {
  const keys = new PlatformKeys().addPublicKey("PUB_KEY_ID_01", publicKey.export({ type: "spki", format: "pem" }).toString());
  const raw = JSON.stringify({
    id: "1",
    event_type: "TRANSACTION.SUCCESS",
    resource: encryptResource("{}", apiV3Key, "transaction"),
  });
  const now = 1_800_000_000;
  const h = signedHeaders(raw, "PUB_KEY_ID_01", privateKey, String(now));
  const v = (headers: Record<string, string>, body = raw) =>
    verifyNotification({ headers, raw: body, keys, apiV3Key, nowS: now });
  const reason = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as NotifyRefused).reason;
    }
    return "accepted";
  };
  assert.equal(
    reason(() => v(h).parse()),
    "accepted",
  );
  assert.equal(
    reason(() => v({})),
    "missing_signature",
  );
  assert.equal(
    reason(() => v({ ...h, "Wechatpay-Timestamp": String(now - 301) })),
    "stale_timestamp",
  );
  assert.equal(
    reason(() => v({ ...h, "Wechatpay-Serial": "PUB_KEY_ID_02" })),
    "unknown_serial",
  );
  assert.equal(
    reason(() => v(h, `${raw} `)),
    "bad_signature",
  );
  assert.equal(
    reason(() => v({ ...h, "Wechatpay-Signature": rsaSign("other", privateKey) })),
    "bad_signature",
  );
  assert.ok(new NotifyRefused("oversized", 413, "x") instanceof Error);
});
