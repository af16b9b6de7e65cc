import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { extract } from "tar-stream";
import { appTree, dependencyClosure } from "./app.js";
import { Tree } from "./tree.js";

function put(root: string, rel: string, text = "x"): void {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}
const pkg = (name: string, deps: Record<string, string> = {}, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ name, version: "1.0.0", dependencies: deps, ...extra });

/** A tiny workspace repo: app -> lib (workspace link), x (hoisted) -> z (nested), native n; typescript is dev-only. */
function fakeRepo(): string {
  const r = mkdtempSync(join(tmpdir(), "twl-app-"));
  put(r, "package.json", pkg("root", {}, { devDependencies: { typescript: "5" } }));
  put(
    r,
    "app/package.json",
    pkg("@t/app", { "@t/lib": "1", x: "1", n: "1" }, { optionalDependencies: { "absent-binary": "1" } }),
  );
  put(r, "app/dist/main.js", "console.log(1)");
  put(r, "app/dist/main.test.js");
  put(r, "app/dist/main.d.ts");
  put(r, "app/src/main.ts");
  put(r, "app/tsconfig.json");
  put(r, "lib/package.json", pkg("@t/lib"));
  put(r, "lib/dist/index.js");
  mkdirSync(join(r, "node_modules/@t"), { recursive: true });
  symlinkSync("../../lib", join(r, "node_modules/@t/lib"));
  symlinkSync("../../app", join(r, "node_modules/@t/app"));
  put(r, "node_modules/x/package.json", pkg("x", { z: "2" }));
  put(r, "node_modules/x/index.js");
  put(r, "node_modules/x/index.d.ts");
  put(r, "node_modules/x/README.md");
  put(r, "node_modules/x/LICENSE");
  put(r, "node_modules/x/node_modules/z/package.json", pkg("z"));
  put(r, "node_modules/z/package.json", pkg("z-wrong-version"));
  put(r, "node_modules/n/package.json", pkg("n"));
  put(r, "node_modules/n/binding.gyp");
  put(r, "node_modules/n/lib/index.js");
  put(r, "node_modules/n/build/Release/n.node");
  put(r, "node_modules/n/build/Release/obj.target/n.o");
  put(r, "node_modules/n/deps/sqlite3.c");
  put(r, "node_modules/n/src/n.cc");
  put(r, "node_modules/typescript/package.json", pkg("typescript"));
  return r;
}

test("the closure follows Node's resolution, keeps workspace links, skips missing optionals and dev-only packages", async () => {
  const r = fakeRepo();
  try {
    const c = await dependencyClosure(r, ["app"]);
    assert.deepEqual(
      c.packages.map((p) => p.slice(r.length + 1)),
      ["node_modules/@t/lib", "node_modules/n", "node_modules/x", "node_modules/x/node_modules/z"],
    );
    assert.deepEqual(c.workspaces, ["app", "lib"]);
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});

test("the app tree: dist without tests/types, no sources, native addons keep only the .node file", async () => {
  const r = fakeRepo();
  try {
    const { tree } = await appTree({ root: r, workspaces: ["app"], prefix: "app" });
    const paths = tree
      .list()
      .filter((e) => e.type !== "dir")
      .map((e) => e.path);
    assert.deepEqual(paths, [
      "app/app/dist/main.js",
      "app/app/package.json",
      "app/lib/dist/index.js",
      "app/lib/package.json",
      "app/node_modules/@t/lib",
      "app/node_modules/n/binding.gyp",
      "app/node_modules/n/build/Release/n.node",
      "app/node_modules/n/lib/index.js",
      "app/node_modules/n/package.json",
      "app/node_modules/x/LICENSE",
      "app/node_modules/x/index.js",
      "app/node_modules/x/node_modules/z/package.json",
      "app/node_modules/x/package.json",
      "app/package.json",
    ]);
    const link = tree.list().find((e) => e.path === "app/node_modules/@t/lib");
    assert.deepEqual(link, { type: "symlink", path: "app/node_modules/@t/lib", target: "../../lib" });
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});

test("a tree's tar round-trips (parents first, root-owned, fixed mtime) and its hash follows content", async () => {
  const r = mkdtempSync(join(tmpdir(), "twl-tree-"));
  try {
    put(r, "f.txt", "hello");
    const t = new Tree();
    t.add({ type: "file", path: "/usr/bin/f", mode: 0o755, source: join(r, "f.txt"), size: 5 });
    t.add({ type: "symlink", path: "/bin", target: "usr/bin" });
    t.add({ type: "data", path: "/etc/passwd", mode: 0o644, data: Buffer.from("root:x:0:0::/:/bin/sh\n") });
    const h1 = await t.contentHash();
    assert.equal(h1, await t.contentHash());
    const seen: Array<[string, string, number, string]> = [];
    await new Promise<void>((resolve, reject) => {
      const x = extract();
      x.on("entry", (h, stream, next) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: unknown) => chunks.push(c as Buffer));
        stream.on("end", () => {
          assert.equal(h.uid, 0);
          assert.equal(h.mtime?.toISOString(), "2020-01-01T00:00:00.000Z");
          seen.push([
            h.name,
            h.type ?? "",
            h.mode ?? 0,
            h.type === "symlink" ? (h.linkname ?? "") : Buffer.concat(chunks).toString(),
          ]);
          next();
        });
      });
      x.on("finish", resolve);
      x.on("error", reject);
      t.tar().pipe(x as unknown as NodeJS.WritableStream);
    });
    assert.deepEqual(seen, [
      ["bin", "symlink", 0o777, "usr/bin"],
      ["etc", "directory", 0o755, ""],
      ["etc/passwd", "file", 0o644, "root:x:0:0::/:/bin/sh\n"],
      ["usr", "directory", 0o755, ""],
      ["usr/bin", "directory", 0o755, ""],
      ["usr/bin/f", "file", 0o755, "hello"],
    ]);
    put(r, "f.txt", "hellO");
    assert.notEqual(await t.contentHash(), h1);
  } finally {
    rmSync(r, { recursive: true, force: true });
  }
});
