import assert from "node:assert/strict";
import { test } from "node:test";
import { isDomainError } from "./errors.js";
import {
  bodySha256Hex,
  PROVISION_HEADERS,
  type ProvisionAuthReason,
  ProvisionAuthRejected,
  provisionCanonicalString,
  signProvisionRequest,
  verifyProvisionRequest,
} from "./provision-auth.js";

const secret = "s3cret-provisioning-key-0123456789";
const now = 1_800_000_000;
const body = JSON.stringify({ tier: "prefab", plan: "basic", user_id: "u1" });
const path = "/v1/profiles/alice?x=1";
const lookupSecret = (k: string) => (k === "billing-1" ? secret : undefined);

function signed(over: Partial<Parameters<typeof signProvisionRequest>[0]> = {}) {
  return signProvisionRequest({ keyId: "billing-1", secret, method: "put", path, body, now, nonce: "n".repeat(32), ...over });
}

function refusedWith(reason: ProvisionAuthReason, fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProvisionAuthRejected);
    assert.ok(isDomainError(e));
    assert.equal(e.code, "UNAUTHORIZED");
    assert.equal(e.reason, reason);
    assert.equal(e.details.reason, reason);
    return true;
  });
}

test("canonical string is METHOD, path with query, timestamp, nonce, body digest on their own lines", () => {
  const s = provisionCanonicalString({ method: "put", path, timestamp: "1", nonce: "abc", bodySha256: bodySha256Hex("") });
  assert.equal(s, `PUT\n${path}\n1\nabc\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855`);
});

test("a signed request verifies, with header names in any case", () => {
  const h = signed();
  assert.match(h[PROVISION_HEADERS.authorization] ?? "", /^TWILIGHT-HMAC-SHA256 Credential=billing-1, Signature=[0-9a-f]{64}$/);
  assert.equal(h[PROVISION_HEADERS.contentSha256], bodySha256Hex(body));
  const lower = Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
  assert.deepEqual(
    verifyProvisionRequest({ headers: lower, method: "PUT", path, body: Buffer.from(body), lookupSecret, now: now + 10 }),
    {
      keyId: "billing-1",
      nonce: "n".repeat(32),
    },
  );
});

test("default nonce is random and timestamp is now", () => {
  const a = signProvisionRequest({ keyId: "k", secret, method: "PUT", path: "/", body: "" });
  const b = signProvisionRequest({ keyId: "k", secret, method: "PUT", path: "/", body: "" });
  assert.notEqual(a[PROVISION_HEADERS.nonce], b[PROVISION_HEADERS.nonce]);
  assert.ok(Math.abs(Number(a[PROVISION_HEADERS.timestamp]) - Date.now() / 1000) < 5);
});

test("each way of failing is refused with its reason", () => {
  const v = (headers: Record<string, string | undefined>, over: Partial<Parameters<typeof verifyProvisionRequest>[0]> = {}) =>
    verifyProvisionRequest({ headers, method: "PUT", path, body, lookupSecret, now, ...over });
  const h = signed();
  refusedWith("missing_header", () => v({ ...h, [PROVISION_HEADERS.authorization]: undefined }));
  refusedWith("missing_header", () => v({ ...h, [PROVISION_HEADERS.nonce]: undefined }));
  refusedWith("bad_format", () => v({ ...h, [PROVISION_HEADERS.authorization]: "Bearer abc" }));
  refusedWith("bad_format", () => v({ ...h, [PROVISION_HEADERS.timestamp]: "soon" }));
  refusedWith("bad_format", () => v({ ...h, [PROVISION_HEADERS.nonce]: "short" }));
  refusedWith("unknown_key", () => v(signed({ keyId: "other" })));
  refusedWith("clock_skew", () => v(h, { now: now + 301 }));
  refusedWith("clock_skew", () => v(h, { now: now - 301 }));
  assert.doesNotThrow(() => v(h, { now: now + 300 }));
  refusedWith("digest_mismatch", () => v(h, { body: `${body} ` }));
  refusedWith("bad_signature", () => v(h, { path: "/v1/profiles/mallory" }));
  refusedWith("bad_signature", () => v(h, { method: "POST" }));
  refusedWith("bad_signature", () => v(signed({ secret: "wrong" })));
  const forgedDigest = { ...h, [PROVISION_HEADERS.contentSha256]: bodySha256Hex("{}") };
  refusedWith("bad_signature", () => v(forgedDigest, { body: "{}" }));
});

test("signing refuses a malformed key id or nonce", () => {
  assert.throws(() => signed({ keyId: "bad key" }));
  assert.throws(() => signed({ nonce: "x" }));
});
