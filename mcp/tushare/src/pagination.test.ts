import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { z } from "zod";
import { MAX_PAGE, PageQuery, page } from "./pagination.js";

describe("pagination", () => {
  it("gives the next offset until the last page", () => {
    assert.deepEqual(page([1, 2], 5, 2, 0), { rows: [1, 2], total: 5, limit: 2, offset: 0, next_offset: 2 });
    assert.equal(page([5], 5, 2, 4).next_offset, null);
    assert.equal(page([], 5, 2, 10).next_offset, null);
  });
  it("validates limit and offset from a query string", () => {
    const s = z.object(PageQuery).strict();
    assert.deepEqual(s.parse({}), { limit: 100, offset: 0 });
    assert.deepEqual(s.parse({ limit: "5", offset: "10" }), { limit: 5, offset: 10 });
    assert.equal(s.safeParse({ limit: String(MAX_PAGE + 1) }).success, false);
    assert.equal(s.safeParse({ limit: "0" }).success, false);
    assert.equal(s.safeParse({ offset: "-1" }).success, false);
    assert.equal(s.safeParse({ limit: "abc" }).success, false);
    assert.equal(s.safeParse({ page: "2" }).success, false);
  });
});
