#!/usr/bin/env node
/** hermes-admin: the operator's CLI, a thin client of the fleet daemon's HTTP API. */
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { type FleetConfig, fleetConfig } from "../config.js";
import { serveForever } from "../daemon/serve.js";
import { FleetClient } from "./client.js";
import { daemonCommands } from "./daemon-commands.js";
import { EXIT_HELP } from "./exit-codes.js";
import { platformCommands } from "./platform-commands.js";
import { profileCommands } from "./profile-commands.js";
import { fail } from "./run.js";

let cfgCache: FleetConfig | undefined;
const cfg = () => {
  cfgCache ??= fleetConfig();
  return cfgCache;
};

const program = new Command("hermes-admin")
  .description("Operate the Twilight fleet of Hermes profiles: spawn, list, start, stop, migrate, tail and exec.")
  .option("--json", "machine-readable output on stdout (progress and errors still go to stderr)")
  .showHelpAfterError("(run with --help for usage)")
  .addHelpText(
    "after",
    `\nExamples:\n  hermes-admin up                                   # start the daemon\n  hermes-admin spawn test-basic-1 --tier prefab     # create and start a profile\n  hermes-admin list\n  hermes-admin exec test-basic-1 -- fetch_price 600519\n  hermes-admin logs test-basic-1 -f\n\nEnvironment: TWILIGHT_OPS_DIR (state, default <repo>/ops), FLEET_DB_URL (sqlite:... or postgres://...),\nFLEET_API_PORT (8700). See README.md.\n\n${EXIT_HELP}`,
  );

profileCommands(program, () => FleetClient.fromConfig(cfg()));
daemonCommands(program, cfg, fileURLToPath(import.meta.url), () => serveForever({ cfg: cfg() }));
platformCommands(program, cfg, () => FleetClient.fromConfig(cfg()));

program.parseAsync(process.argv).catch((e) => {
  process.exitCode = fail(e, process.argv.includes("--json"));
});
