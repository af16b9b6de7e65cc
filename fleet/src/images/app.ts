/**
 * The application layer of an image: the repo's layout under /app (root package.json, each workspace's package.json and
 * dist/, and the runtime node_modules they need). The node_modules set is the closure of the workspaces' dependencies,
 * resolved the way Node does (nearest node_modules first), so dev-only packages (typescript, biome, madge, @types) and
 * other workspaces' dependencies stay out. Native modules keep their compiled .node files; build leftovers are dropped.
 */
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { DriverError } from "@twilight/core";
import { normalMode, Tree } from "./tree.js";

interface PkgJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

async function readPkg(dir: string): Promise<PkgJson> {
  return JSON.parse(await readFile(join(dir, "package.json"), "utf8")) as PkgJson;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Resolve a package name from `fromDir` as Node does: <dir>/node_modules/<name>, walking up to `root`. */
export async function resolvePackage(name: string, fromDir: string, root: string): Promise<string | undefined> {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const cand = join(dir, "node_modules", name);
    if (await exists(join(cand, "package.json"))) return cand;
    if (dir === root || dir === dirname(dir) || !dir.startsWith(root)) return undefined;
  }
}

/**
 * Every package directory (under root/node_modules, possibly nested) that the given workspaces need at run time, and the
 * workspaces they reach through `@scope/name` links. Missing optional dependencies (other platforms' binaries) are skipped.
 */
export async function dependencyClosure(
  root: string,
  workspaces: string[],
): Promise<{ packages: string[]; workspaces: string[] }> {
  const packages = new Set<string>();
  const wsDirs = new Set(workspaces.map((w) => join(root, w)));
  const queue = [...wsDirs];
  const visited = new Set<string>();
  while (queue.length) {
    const dir = queue.shift() as string;
    if (visited.has(dir)) continue;
    visited.add(dir);
    const pkg = await readPkg(dir);
    const required = Object.keys(pkg.dependencies ?? {});
    const optional = [
      ...Object.keys(pkg.optionalDependencies ?? {}),
      ...Object.keys(pkg.peerDependencies ?? {}), // peers: used only when installed
    ];
    for (const [name, isOptional] of [...required.map((n) => [n, false] as const), ...optional.map((n) => [n, true] as const)]) {
      const found = await resolvePackage(name, dir, root);
      if (!found) {
        if (isOptional) continue;
        throw new DriverError("images", `${pkg.name ?? dir} needs ${name}, which is not installed`, {
          hint: "run `npm ci` at the repository root",
        });
      }
      const st = await lstat(found);
      if (st.isSymbolicLink()) {
        // A workspace link (node_modules/@twilight/core -> ../../core): keep the link, include the workspace.
        const target = join(dirname(found), await readlink(found));
        packages.add(found);
        wsDirs.add(target);
        queue.push(target);
      } else {
        packages.add(found);
        queue.push(found);
      }
    }
  }
  return {
    packages: [...packages].sort(),
    workspaces: [...wsDirs].map((d) => relative(root, d)).sort(),
  };
}

/** Files never shipped from a dependency package. */
function skipInPackage(rel: string, isNative: boolean): boolean {
  const base = rel.split(sep).pop() ?? rel;
  if (/\.(d\.ts|d\.mts|d\.cts|map|ts|mts|cts|md|markdown|tsbuildinfo)$/i.test(base) && !/^LICEN[CS]E/i.test(base)) {
    // keep .d.ts? no: types are for compilers; .ts sources likewise
    return true;
  }
  if (rel === "node_modules" || rel.startsWith(`node_modules${sep}`)) return true; // nested deps are added on their own
  if (rel.startsWith(`.github${sep}`) || rel === ".github") return true;
  if (isNative) {
    // Native addons: keep build/Release/*.node only (no object files, no vendored C sources).
    if (rel === "deps" || rel.startsWith(`deps${sep}`) || rel === "src" || rel.startsWith(`src${sep}`)) return true;
    if (rel.startsWith(`build${sep}`) && rel !== `build${sep}Release` && !/^build[\\/]Release[\\/][^\\/]+\.node$/.test(rel))
      return true;
    if (/test_extension\.node$/.test(rel)) return true;
  }
  return false;
}

/** Files never shipped from a workspace: sources, tests, compiler leftovers. */
function skipInWorkspace(rel: string): boolean {
  const top = rel.split(sep)[0];
  if (top === "src" || top === "node_modules" || /^tsconfig.*\.json$/.test(rel) || top === "test" || top === "tests") return true;
  const base = rel.split(sep).pop() ?? rel;
  return /\.(test|int\.test)\.(js|js\.map|d\.ts|d\.ts\.map)$/.test(base) || /\.(d\.ts|d\.ts\.map|tsbuildinfo)$/.test(base);
}

async function addDir(
  tree: Tree,
  opts: { root: string; dir: string; prefix: string; skip: (rel: string) => boolean },
): Promise<void> {
  const walk = async (d: string): Promise<void> => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const abs = join(d, ent.name);
      const rel = relative(opts.dir, abs);
      if (opts.skip(rel)) continue;
      const dest = join(opts.prefix, relative(opts.root, abs));
      if (ent.isSymbolicLink()) tree.add({ type: "symlink", path: dest, target: await readlink(abs) });
      else if (ent.isDirectory()) {
        tree.add({ type: "dir", path: dest, mode: 0o755 });
        await walk(abs);
      } else if (ent.isFile()) {
        const st = await lstat(abs);
        tree.add({ type: "file", path: dest, mode: normalMode(st.mode), source: abs, size: st.size });
      }
    }
  };
  await walk(opts.dir);
}

export interface AppTreeOptions {
  root: string;
  workspaces: string[];
  /** Further repo paths copied whole (e.g. the profile template), relative to root. */
  extra?: string[];
  /** Tree prefix ("app" for a build context whose Dockerfile COPYs app/ to /app). */
  prefix: string;
  tree?: Tree;
}

/**
 * Build the /app tree for a set of workspaces. A workspace that others depend on must be built (dist/); one that is
 * only listed (e.g. the skill, used through its bin/ and SKILL.md) is copied as it is and reported in `unbuilt`.
 */
export async function appTree(
  o: AppTreeOptions,
): Promise<{ tree: Tree; packages: number; workspaces: string[]; unbuilt: string[] }> {
  const tree = o.tree ?? new Tree();
  const closure = await dependencyClosure(o.root, o.workspaces);
  const unbuilt: string[] = [];
  for (const ws of closure.workspaces) {
    const dir = join(o.root, ws);
    if (!(await exists(join(dir, "dist")))) {
      if (!o.workspaces.includes(ws) || ws === "core")
        throw new DriverError("images", `workspace ${ws} is not built (no ${ws}/dist)`, { hint: "run `npx tsc -b` first" });
      unbuilt.push(ws);
    }
    await addDir(tree, { root: o.root, dir, prefix: o.prefix, skip: skipInWorkspace });
  }
  const rootPkg = await lstat(join(o.root, "package.json"));
  tree.add({
    type: "file",
    path: join(o.prefix, "package.json"),
    mode: 0o644,
    source: join(o.root, "package.json"),
    size: rootPkg.size,
  });
  for (const p of closure.packages) {
    const st = await lstat(p);
    const dest = join(o.prefix, relative(o.root, p));
    if (st.isSymbolicLink()) {
      tree.add({ type: "symlink", path: dest, target: await readlink(p) });
      continue;
    }
    const isNative = await exists(join(p, "binding.gyp"));
    await addDir(tree, { root: o.root, dir: p, prefix: o.prefix, skip: (rel) => skipInPackage(rel, isNative) });
  }
  for (const x of o.extra ?? []) await addDir(tree, { root: o.root, dir: join(o.root, x), prefix: o.prefix, skip: () => false });
  return { tree, packages: closure.packages.length, workspaces: closure.workspaces, unbuilt };
}
