import assert from "node:assert/strict";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ChangeFlag } from "./change-flag.js";

const settle = () => new Promise((r) => setTimeout(r, 50));

test("ChangeFlag: says 'maybe' once per change of its file (written, renamed over, removed), not for other files", async () => {
  const dir = mkdtempSync(join(tmpdir(), "twl-flag-"));
  const file = join(dir, "tokens.json");
  const flag = new ChangeFlag(file);
  try {
    assert.equal(flag.maybeChanged(), true, "the first check always looks");
    assert.equal(flag.maybeChanged(), false);
    writeFileSync(file, "{}");
    await settle();
    assert.equal(flag.maybeChanged(), true, "written");
    assert.equal(flag.maybeChanged(), false);
    writeFileSync(join(dir, "other.json"), "{}");
    await settle();
    assert.equal(flag.maybeChanged(), false, "another file of the directory");
    writeFileSync(join(dir, "next"), "{}");
    renameSync(join(dir, "next"), file);
    await settle();
    assert.equal(flag.maybeChanged(), true, "an atomic rename over it");
    rmSync(file);
    await settle();
    assert.equal(flag.maybeChanged(), true, "removed");
    flag.touch();
    assert.equal(flag.maybeChanged(), true, "touched");
    flag.close();
    assert.equal(flag.maybeChanged(), true, "closed: every check looks");
    assert.equal(flag.maybeChanged(), true);
  } finally {
    flag.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ChangeFlag: without a directory to watch, every check looks (the caller stats as before)", () => {
  const flag = new ChangeFlag("/nonexistent-twilight-dir/tokens.json");
  assert.equal(flag.maybeChanged(), true);
  assert.equal(flag.maybeChanged(), true);
  flag.close();
});
