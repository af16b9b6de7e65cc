import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ensureScrapeToken, writeBundle } from "./files.js";
import { prometheusBundle } from "./prometheus-config.js";

describe("observability files", () => {
  const dir = mkdtempSync(join(tmpdir(), "obs-files-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("ensureScrapeToken creates a 0640 token once and keeps it", () => {
    const path = join(dir, "prometheus", "scrape-token");
    const a = ensureScrapeToken(path);
    assert.equal(statSync(path).mode & 0o777, 0o640);
    assert.equal(ensureScrapeToken(path), a);
    writeFileSync(path, "short\n");
    assert.throws(() => ensureScrapeToken(path), /fewer than 32/);
  });

  it("writeBundle writes every file with its mode and refuses paths that leave the directory", () => {
    const out = join(dir, "out");
    const files = prometheusBundle({ scrapeToken: "t".repeat(43), rules: "groups: []\n", targets: "[]\n" });
    const written = writeBundle(out, files);
    assert.equal(written.length, 4);
    assert.equal(statSync(join(out, "secrets/scrape-token")).mode & 0o777, 0o640);
    assert.equal(readFileSync(join(out, "targets/profiles.json"), "utf8"), "[]\n");
    assert.throws(() => writeBundle(out, new Map([["../x", { content: "", mode: 0o644 }]])), /leaves/);
  });
});
