import assert from "node:assert/strict";
import { test } from "node:test";
import { leaderAppName, leaderUrlOf, lockKey, lockKeyParts } from "./leader-lock.js";

test("the lock key is fixed, positive 63-bit, and different per name", () => {
  const k = lockKey("twilight-fleet/leader");
  assert.equal(k, lockKey("twilight-fleet/leader"));
  assert.ok(k > 0n && k < 2n ** 63n);
  assert.notEqual(k, lockKey("twilight-fleet/other"));
});

test("pg_locks halves of the key recombine to it", () => {
  for (const name of ["twilight-fleet/leader", "a", "b", "c"]) {
    const k = lockKey(name);
    const { classid, objid } = lockKeyParts(k);
    assert.ok(classid >= 0 && classid < 2 ** 31 && objid >= 0 && objid < 2 ** 32);
    assert.equal((BigInt(classid) << 32n) | BigInt(objid), k);
  }
});

test("the leader publishes its URL in application_name; what is too long or not a URL is left out", () => {
  assert.equal(leaderUrlOf(leaderAppName("http://127.0.0.1:8700")), "http://127.0.0.1:8700");
  assert.equal(leaderUrlOf(leaderAppName("https://fleet-b.internal:8700")), "https://fleet-b.internal:8700");
  const long = `http://${"x".repeat(60)}:8700`;
  assert.equal(leaderAppName(long), "twilight-fleet-leader");
  assert.equal(leaderUrlOf(leaderAppName(long)), undefined);
  assert.ok(leaderAppName("http://127.0.0.1:8700").length <= 63);
  assert.equal(leaderUrlOf("twilight-fleet-standby"), undefined);
  assert.equal(leaderUrlOf("psql"), undefined);
  assert.equal(leaderUrlOf(null), undefined);
  assert.equal(leaderUrlOf("twilight-fleet-leader javascript:alert(1)"), undefined);
});
