#!/usr/bin/env node
// `npx hermes-admin` / `node_modules/.bin/hermes-admin`: runs the built CLI (build first: `npx tsc -b` or `npm test`).
import("../dist/main.js").catch((e) => {
  if (e && e.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("dist/main.js")) {
    process.stderr.write("hermes-admin is not built yet: run `npx tsc -b` (or `npm test`) in the repository first\n");
    process.exit(1);
  }
  throw e;
});
