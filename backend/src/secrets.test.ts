import assert from "node:assert/strict";
import { test } from "node:test";
import { generateProfileSecrets, issueUserToken, seal, unseal, verifyUserToken } from "./secrets.js";

const tokenSecret = "t".repeat(40);

test("profile secrets have the template's formats", () => {
  const s = generateProfileSecrets({ userId: "u1", tokenSecret, ttlS: 60 });
  assert.match(s.API_SERVER_KEY, /^hk_[A-Za-z0-9]{37}$/);
  assert.equal(s.API_SERVER_KEY.length, 40);
  assert.match(s.SILICONFLOW_API_KEY, /^sk-[A-Za-z0-9]{45}$/);
  assert.equal(s.SILICONFLOW_API_KEY.length, 48);
  assert.match(s.TWILIGHT_API_TOKEN, /^tw_[A-Za-z0-9_-]{40}$/, "the template's generated format: the fleet accepts it");
  assert.notEqual(generateProfileSecrets({ userId: "u1", tokenSecret, ttlS: 60 }).API_SERVER_KEY, s.API_SERVER_KEY);
});

test("user tokens verify for their user until they expire, and not for anyone else", () => {
  const now = 1_800_000_000;
  const t = issueUserToken({ userId: "alice", tokenSecret, ttlS: 3600, now });
  const v = verifyUserToken({ token: t, userId: "alice", tokenSecret, now: now + 10 });
  assert.equal(v.expiresAt, now + 3600);
  assert.match(v.tokenId, /^[0-9a-f]{16}$/);
  assert.throws(() => verifyUserToken({ token: t, userId: "bob", tokenSecret, now }), /signature/);
  assert.throws(() => verifyUserToken({ token: t, userId: "alice", tokenSecret: "other".repeat(8), now }), /signature/);
  assert.throws(() => verifyUserToken({ token: t, userId: "alice", tokenSecret, now: now + 3601 }), /expired/);
  assert.throws(() => verifyUserToken({ token: "tw_short", userId: "alice", tokenSecret, now }), /format/);
  const tampered = `${t.slice(0, 5)}${t[5] === "A" ? "B" : "A"}${t.slice(6)}`;
  assert.throws(() => verifyUserToken({ token: tampered, userId: "alice", tokenSecret, now }));
});

test("sealed text opens only with the same secret", () => {
  const sealed = seal("hello", tokenSecret);
  assert.equal(unseal(sealed, tokenSecret), "hello");
  assert.ok(!sealed.includes("hello"));
  assert.throws(() => unseal(sealed, "x".repeat(40)));
});
