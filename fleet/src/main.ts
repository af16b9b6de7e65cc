#!/usr/bin/env node
/**
 * The `hermes-admin` entry point, and the fleet's composition root: `serve` runs the daemon, everything else is the CLI
 * (a thin HTTP client that never loads the daemon's modules, so `--help` and `list` start fast).
 */
import { fileURLToPath } from "node:url";
import { runCli } from "./cli/main.js";

await runCli(process.argv, {
  entry: fileURLToPath(import.meta.url),
  serve: async (cfg) => (await import("./daemon/serve.js")).serveForever({ cfg }),
});
