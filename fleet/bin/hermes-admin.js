#!/usr/bin/env node
// `npx hermes-admin` / `node_modules/.bin/hermes-admin`: runs the built CLI (build first: `npm run build` or `npm test`).
// Commands run from the CLI's bundle (dist/cli.mjs, scripts/bundle-cli.mjs: starts in ~80% of the time) when it is at
// least as new as the last `tsc -b` (dist/.tsbuildinfo), else from the modules; `serve` (the daemon) always from the
// modules.
import { statSync } from "node:fs";

const dist = new URL("../dist/", import.meta.url);
const mtime = (name) => {
  try {
    return statSync(new URL(name, dist)).mtimeMs;
  } catch {
    return -1;
  }
};
const bundled = !process.argv.slice(2).includes("serve") && mtime("cli.mjs") >= mtime(".tsbuildinfo") && mtime("cli.mjs") > 0;
import(bundled ? "../dist/cli.mjs" : "../dist/main.js").catch((e) => {
  if (e && e.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/main.js")) {
    process.stderr.write("hermes-admin is not built yet: run `npm run build` (or `npm test`) in the repository first\n");
    process.exit(1);
  }
  throw e;
});
