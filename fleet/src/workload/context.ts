/** What the fleet's services share: configuration, registry, drivers, the data-service token file, the gateway's key file, logger, clock. */
import type { Logger } from "@twilight/core";
import type { FleetConfig } from "../config.js";
import type { GatewayKeyFile } from "../profiles/gateway-keys.js";
import type { McpTokenFile } from "../profiles/mcp-tokens.js";
import type { Registry } from "../registry/types.js";
import type { Drivers } from "../runtime/index.js";

export interface FleetContext {
  cfg: FleetConfig;
  registry: Registry;
  drivers: Drivers;
  tokens: McpTokenFile;
  /** Virtual model keys (hashes) the model gateway accepts, one per profile. */
  modelKeys: GatewayKeyFile;
  log: Logger;
  now: () => number;
}

/** Progress of a long operation, step by step, for the CLI and the API's NDJSON stream. */
export type Progress = (step: string, detail?: Record<string, unknown>) => void;
export const noProgress: Progress = () => undefined;

/** Serialises operations per key (profile name): spawn, start, stop, migrate never interleave for one profile. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
