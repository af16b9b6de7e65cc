import assert from "node:assert/strict";
import { test } from "node:test";
import { z } from "zod";
import { formatIssues, issueList } from "./validation.js";

test("formatIssues names each path, and the root by the given label", () => {
  const r = z.object({ a: z.object({ b: z.string() }), n: z.number() }).safeParse({ a: { b: 1 } });
  assert.ok(!r.success);
  assert.equal(formatIssues(r.error.issues), "a.b: Expected string, received number; n: Required");
  const root = z.string().safeParse(3);
  assert.ok(!root.success);
  assert.match(formatIssues(root.error.issues, "(body)"), /^\(body\): /);
  assert.deepEqual(issueList(r.error.issues)[0], { path: "a.b", message: "Expected string, received number" });
});
