import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { REPO } from "./testing/harness.js";

const SCRIPT = join(REPO, "scripts/admin/install-skill.sh");
const run = (...args: string[]) => spawnSync("bash", [SCRIPT, ...args], { encoding: "utf8", timeout: 30_000 });

describe("scripts/admin/install-skill.sh", () => {
  const tmp = mkdtempSync(join(tmpdir(), "twl-skills-"));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("installs the bundled skill as <root>/<category>/<name>, read-only for others, without sources", () => {
    const root = join(tmp, "a");
    const r = run("--json", join(REPO, "skill/stock-research"), root);
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { path: string; name: string };
    assert.equal(out.path, join(root, "research/stock-research"));
    const mode = (p: string) => statSync(join(out.path, p)).mode & 0o777;
    assert.equal(mode("SKILL.md"), 0o644);
    assert.equal(mode("bin/fetch_price"), 0o755);
    assert.equal(mode("."), 0o755);
    for (const gone of ["src", "dist", "node_modules", "package.json", "tsconfig.json"])
      assert.ok(!existsSync(join(out.path, gone)), gone);
    // a second install replaces the first in place
    assert.equal(run(join(REPO, "skill/stock-research"), root).status, 0);
    assert.match(readFileSync(join(out.path, "SKILL.md"), "utf8"), /^---\nname: stock-research/);
  });

  it("refuses an invalid skill with the reasons and installs nothing", () => {
    const bad = join(tmp, "bad");
    mkdirSync(bad);
    writeFileSync(join(bad, "SKILL.md"), "---\nname: Bad Name\nversion: x\n---\n");
    const root = join(tmp, "b");
    const r = run(bad, root);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /name: lower-case/);
    assert.match(r.stderr, /description: Required/);
    assert.ok(!existsSync(root));
  });

  it("refuses a link that leaves the skill", () => {
    const s = join(tmp, "linky");
    mkdirSync(s);
    writeFileSync(join(s, "SKILL.md"), "---\nname: linky\ndescription: d\nversion: 1.0.0\n---\n");
    symlinkSync("/etc/passwd", join(s, "passwd"));
    const r = run(s, join(tmp, "c"));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /points outside the skill/);
  });

  it("--check validates without installing; bad usage exits 2", () => {
    const r = run("--check", join(REPO, "skill/stock-research"), join(tmp, "d"));
    assert.equal(r.status, 0);
    assert.match(r.stdout, /valid: stock-research/);
    assert.ok(!existsSync(join(tmp, "d")));
    assert.equal(run().status, 2);
  });
});
