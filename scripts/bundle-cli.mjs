// The hermes-admin CLI as one file (fleet/dist/cli.mjs), zod and commander included: Node resolves and reads one file
// instead of ~300 (zod 4 alone is ~145 modules), and code the command does not reach is parsed lazily. Measured
// (bench: `list` with 200 profiles, `--help`): see README "Measured". The daemon (`serve`) is not in it: the package bin
// runs `serve` from fleet/dist/main.js. Packages with native parts or worker files stay external. It must sit in
// fleet/dist/ (lib/app-dir.ts finds the application from there). Run after `tsc -b` (npm run build does both).
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "fleet", "dist");
for (const f of readdirSync(outdir)) if (/^cli(-chunk-.*)?\.mjs(\.map)?$/.test(f)) rmSync(join(outdir, f));
await build({
  entryPoints: { cli: join(outdir, "cli-entry.js") },
  outdir,
  entryNames: "[name]",
  chunkNames: "cli-chunk-[hash]",
  outExtension: { ".js": ".mjs" },
  // what a command loads when it runs (the contract, zod, the config) is a chunk of its own: `--help` never reads it
  splitting: true,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: false,
  sourcemap: "linked",
  external: ["better-sqlite3", "@duckdb/*", "dockerode", "ssh2", "cpu-features", "pg", "pg-native", "pino", "playwright-core"],
  banner: {
    js: "import { createRequire as __twilightRequire } from 'node:module'; const require = __twilightRequire(import.meta.url);",
  },
  logLevel: "warning",
});
