import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalize } from "./canonical.js";

test("sorts keys by UTF-16 code units and drops white space", () => {
  assert.equal(canonicalize({ b: 1, a: [true, null, "x"], "\u20ac": 1, "\r": 2 }), '{"\\r":2,"a":[true,null,"x"],"b":1,"€":1}');
});

test("numbers use the shortest round-trip form (RFC 8785 examples)", () => {
  assert.equal(canonicalize([1e21, 1e-7, 333333333.3333333, -0, 4.5, 2e-3]), "[1e+21,1e-7,333333333.3333333,0,4.5,0.002]");
});

test("omits undefined members and rejects values JSON cannot hold", () => {
  assert.equal(canonicalize({ a: undefined, b: 2 }), '{"b":2}');
  assert.throws(() => canonicalize({ x: Number.NaN }), /non-finite number at \$\.x/);
  assert.throws(() => canonicalize({ f: () => 1 }), /unsupported function/);
  assert.throws(() => canonicalize(new Map()), /unsupported object/);
});

test("key order of the input does not change the output", () => {
  assert.equal(canonicalize({ x: { b: 1, a: 2 }, y: 1 }), canonicalize({ y: 1, x: { a: 2, b: 1 } }));
});
