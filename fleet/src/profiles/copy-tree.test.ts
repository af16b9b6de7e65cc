import assert from "node:assert/strict";
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { copyTree } from "./copy-tree.js";

const asRoot = process.getuid?.() === 0;

test(
  "a profile tree is copied with owners, modes and links as links; a sync makes the copy equal",
  { skip: !asRoot && "needs root (chown)" },
  async () => {
    const base = mkdtempSync(join(tmpdir(), "copy-tree-"));
    try {
      const src = join(base, "src");
      const dst = join(base, "dst");
      const secret = join(base, "outside-secret");
      writeFileSync(secret, "not the tenant's");
      mkdirSync(join(src, "sessions"), { recursive: true, mode: 0o700 });
      writeFileSync(join(src, ".env"), "KEY=1\n", { mode: 0o640 });
      writeFileSync(join(src, "state.db"), "v1");
      writeFileSync(join(src, "sessions", "a.json"), "{}", { mode: 0o600 });
      symlinkSync(secret, join(src, "sessions", "link")); // a tenant's link: copied as a link, never read through
      const { chownSync } = await import("node:fs");
      chownSync(join(src, ".env"), 0, 4242);
      chownSync(join(src, "sessions", "a.json"), 4242, 4242);
      const first = await copyTree(src, dst);
      assert.equal(first.files, 3);
      assert.equal(readFileSync(join(dst, ".env"), "utf8"), "KEY=1\n");
      assert.equal(lstatSync(join(dst, ".env")).mode & 0o777, 0o640);
      assert.equal(lstatSync(join(dst, ".env")).gid, 4242);
      assert.equal(lstatSync(join(dst, "sessions", "a.json")).uid, 4242);
      assert.equal(lstatSync(join(dst, "sessions")).mode & 0o777, 0o700);
      assert.ok(lstatSync(join(dst, "sessions", "link")).isSymbolicLink());
      assert.equal(readlinkSync(join(dst, "sessions", "link")), secret);

      // the source changes while "running"; the final sync copies what changed, the db always, and deletes what is gone
      writeFileSync(join(src, "state.db"), "v2");
      rmSync(join(src, "sessions", "a.json"));
      writeFileSync(join(src, "sessions", "b.json"), "[]");
      writeFileSync(join(dst, "stray"), "x");
      const sync = await copyTree(src, dst, { sync: true });
      assert.equal(readFileSync(join(dst, "state.db"), "utf8"), "v2");
      assert.equal(readFileSync(join(dst, "sessions", "b.json"), "utf8"), "[]");
      assert.throws(() => lstatSync(join(dst, "sessions", "a.json")));
      assert.throws(() => lstatSync(join(dst, "stray")));
      assert.equal(sync.files, 2, "state.db (always) and b.json (new); the unchanged .env is not copied again");
      assert.equal(sync.removed, 2);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  },
);
