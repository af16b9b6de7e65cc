/** hermes-admin: the operator's CLI, a thin client of the fleet daemon's HTTP API. The entry point is ../main.ts. */
import { Command } from "commander";
import { FleetClient } from "../client/client.js";
import type { FleetConfig } from "../config.js";
import { completionCommand } from "./completion.js";
import { daemonCommands } from "./daemon-commands.js";
import { day2Commands } from "./day2-commands.js";
import { doctorCommand } from "./doctor-command.js";
import { EXIT_HELP } from "./exit-codes.js";
import { gatewayCommands } from "./gateway-commands.js";
import { loadedConfig } from "./lazy.js";
import { observeCommands } from "./observe-commands.js";
import { platformCommands } from "./platform-commands.js";
import { profileCommands } from "./profile-commands.js";
import { provisionCommands } from "./provision-commands.js";
import { fail } from "./run.js";
import { swarmCommands } from "./swarm-commands.js";

export interface CliEntry {
  /** This program's entry file (what `up` starts with `serve`). */
  entry: string;
  /** Run the daemon in this process (`hermes-admin serve`). */
  serve: (cfg: FleetConfig) => Promise<void>;
}

export async function runCli(argv: string[], e: CliEntry): Promise<void> {
  let cfgCache: FleetConfig | undefined;
  const cfg = () => {
    cfgCache ??= loadedConfig().fleetConfig();
    return cfgCache;
  };
  const program = new Command("hermes-admin")
    .description("Operate the Twilight fleet of Hermes profiles: spawn, list, start, stop, migrate, tail and exec.")
    .option("--json", "machine-readable output on stdout (progress and errors still go to stderr)")
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText(
      "after",
      `\nExamples:\n  hermes-admin up                                   # bring the platform up\n  hermes-admin spawn test-basic-1 --tier prefab     # create and start a profile\n  hermes-admin list\n  hermes-admin exec test-basic-1 -- fetch_price 600519\n  hermes-admin logs test-basic-1 -f\n\nEnvironment: TWILIGHT_OPS_DIR (state, default <repo>/ops), FLEET_DB_URL (sqlite:... or postgres://...),\nFLEET_API_PORT (8700). See README.md.\n\n${EXIT_HELP}`,
    );

  profileCommands(program, () => FleetClient.local(cfg));
  day2Commands(program, () => FleetClient.local(cfg));
  daemonCommands(program, cfg, e.entry, () => e.serve(cfg()));
  platformCommands(program, cfg, () => FleetClient.local(cfg));
  gatewayCommands(program, () => FleetClient.local(cfg));
  swarmCommands(program, () => FleetClient.local(cfg));
  provisionCommands(program, cfg, () => FleetClient.local(cfg), e.entry);
  observeCommands(program, () => FleetClient.local(cfg));
  doctorCommand(program, cfg, () => FleetClient.local(cfg));
  completionCommand(program);
  await program.parseAsync(argv).catch((err) => {
    process.exitCode = fail(err, argv.includes("--json"));
  });
}
