import assert from "node:assert/strict";
import { test } from "node:test";
import { isSameProcessAlive, parseProcStat, readProcStat } from "./proc.js";

test("parses a stat line whose command contains spaces and parentheses", () => {
  const line = "4242 (node (x) y) S 1 4242 4242 0 -1 4194560 1 0 0 0 5 6 0 0 20 0 11 0 987654 1000 200 ...";
  const s = parseProcStat(line);
  assert.deepEqual(s, { pid: 4242, state: "S", ppid: 1, pgrp: 4242, session: 4242, startTime: "987654" });
});

test("this process is alive with its own start time and not with another", () => {
  const me = readProcStat(process.pid);
  assert.ok(me);
  assert.equal(isSameProcessAlive(process.pid, me.startTime), true);
  assert.equal(isSameProcessAlive(process.pid, String(Number(me.startTime) + 1)), false);
  assert.equal(isSameProcessAlive(2 ** 22 + 7), false);
});
