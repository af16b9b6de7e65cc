import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { closeQuietly, logPath, openConsoleLog, rotateIfNeeded } from "./logfiles.js";

test("rotates by size, keeps N files, and the open writer keeps appending to the live file", () => {
  const dir = mkdtempSync(join(tmpdir(), "twl-logs-"));
  try {
    const fd = openConsoleLog(dir);
    for (let round = 0; round < 5; round++) {
      writeSync(fd, `${String(round).repeat(200)}\n`);
      assert.equal(rotateIfNeeded(dir, 100, 3), true);
    }
    writeSync(fd, "after\n");
    closeQuietly(fd);
    assert.deepEqual(readdirSync(dir).sort(), ["console.log", "console.log.1", "console.log.2", "console.log.3"]);
    assert.equal(readFileSync(logPath(dir), "utf8").replace(/\0/g, ""), "after\n");
    assert.match(readFileSync(`${logPath(dir)}.1`, "utf8"), /^4{200}/);
    assert.match(readFileSync(`${logPath(dir)}.3`, "utf8").replace(/\0/g, ""), /^2{200}/);
    appendFileSync(logPath(dir), "x");
    assert.equal(rotateIfNeeded(dir, 100, 3), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
