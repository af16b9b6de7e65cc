// The profile runtime as one bundle (agent/dist/bundle/main.mjs): what prefab processes and the profile image start.
// Measured (agent/dist/bench/start.js): start to /health 318 -> ~225 ms and fresh RSS 62 -> 58 MiB, because Node
// resolves and reads a few files instead of ~400. Code loaded on demand (the MCP SDK, the OpenAI client) stays in
// chunks of its own, loaded on first use as before. Identifiers are kept so stack traces stay readable at 3 a.m.
// Run after `tsc -b` (npm run build does both); the tests run it too, so a bundle is never older than dist/.
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "agent", "dist", "bundle");
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { main: join(root, "agent", "dist", "main.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outExtension: { ".js": ".mjs" },
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: false,
  sourcemap: "linked",
  // native modules load their .node file relative to their own package: they stay in node_modules
  external: ["better-sqlite3"],
  // CommonJS dependencies bundled into ESM still call require() for Node built-ins
  banner: {
    js: "import { createRequire as __twilightRequire } from 'node:module'; const require = __twilightRequire(import.meta.url);",
  },
  logLevel: "warning",
});
