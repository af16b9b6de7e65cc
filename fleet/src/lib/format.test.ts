import assert from "node:assert/strict";
import { test } from "node:test";
import { bytes, duration, table } from "./format.js";

test("tables align columns and show '-' for empty cells", () => {
  assert.equal(
    table(
      ["NAME", "PID"],
      [
        ["a", 1],
        ["long-name", null],
      ],
    ),
    "NAME       PID\na          1\nlong-name  -",
  );
});

test("durations and sizes read like an operator expects", () => {
  assert.deepEqual(
    [duration(5), duration(125), duration(7260), duration(90000), duration(null)],
    ["5s", "2m5s", "2h1m", "1d1h", "-"],
  );
  assert.deepEqual([bytes(2048), bytes(45 * 1024 * 1024), bytes(null)], ["2KiB", "45.0MiB", "-"]);
});
