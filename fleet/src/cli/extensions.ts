/** Hooks where later parts (container tier, migration, data service, verify) plug their commands and daemon options in. */
import type { Command } from "commander";
import type { FleetConfig } from "../config.js";
import type { DaemonOptions } from "../daemon/serve.js";
import type { FleetClient } from "./client.js";

export const extensions = {
  daemon(): DaemonOptions {
    return {};
  },
  commands(_program: Command, _cfg: () => FleetConfig, _client: () => FleetClient): void {},
};
