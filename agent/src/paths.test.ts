import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { stateDbPath } from "./paths.js";

test("state.db lives in data/ (layout 2), and a legacy root state.db is used until the fleet moves it", () => {
  const home = mkdtempSync(join(tmpdir(), "twl-paths-"));
  try {
    assert.equal(stateDbPath(home), join(home, "state.db"), "no data/: a bare directory (tests, upstream Hermes)");
    mkdirSync(join(home, "data"));
    assert.equal(stateDbPath(home), join(home, "data", "state.db"));
    writeFileSync(join(home, "state.db"), "");
    assert.equal(stateDbPath(home), join(home, "state.db"), "legacy file wins until moved");
    writeFileSync(join(home, "data", "state.db"), "");
    assert.equal(stateDbPath(home), join(home, "data", "state.db"));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
