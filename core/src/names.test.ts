import assert from "node:assert/strict";
import { test } from "node:test";
import { assertProfileName, workloadName } from "./names.js";

test("accepts the plan's profile names", () => {
  for (const n of ["test-basic-1", "test-basic-2", "test-parallel-1", "test-container-1", "test-upgrade-1", "u1"]) {
    assert.equal(assertProfileName(n), n);
  }
});

test("refuses names that are not DNS labels, saying why", () => {
  const bad = ["../x", "a/b", "A", "x;rm -rf", "", "a".repeat(200), "-a", "a-", "1abc", "a b", "a..b", "ü", "a--b", null];
  for (const n of bad) {
    assert.throws(
      () => assertProfileName(n),
      (e: Error & { code?: string }) => e.code === "NAME_INVALID" && e.message.includes("is invalid"),
      String(n),
    );
  }
});

test("workload names are deterministic", () => {
  assert.equal(workloadName("test-basic-1", 3), "hermes-test-basic-1-g3");
});
