/**
 * The CLI's own entry (bundled by scripts/bundle-cli.mjs into fleet/dist/cli.mjs: one file instead of ~300 modules,
 * zod included, so a command starts in about half the time). Everything but `serve`: the daemon always runs from the
 * unbundled modules (fleet/dist/main.js), which is also what `up` starts (`entry`), so a daemon's code and its errors
 * are one copy.
 */
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runCli } from "./cli/main.js";

const main = join(dirname(fileURLToPath(import.meta.url)), "main.js");

await runCli(process.argv, {
  entry: main,
  // reached only when this file is run directly with `serve` (the package bin sends `serve` to main.js)
  serve: async (cfg) => {
    const serveModule = pathToFileURL(join(dirname(main), "daemon", "serve.js")).href;
    await ((await import(serveModule)) as typeof import("./daemon/serve.js")).serveForever({ cfg });
  },
});
