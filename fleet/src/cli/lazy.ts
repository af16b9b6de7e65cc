/**
 * The admin API contract and the fleet's configuration, loaded when a command runs rather than when the CLI starts:
 * the route table's zod schemas and zod itself are most of the CLI's start-up (~0.15 s), and `--help`, completion and
 * argument errors never need them. `action()` (run.ts) loads both before any command body runs, so `ROUTES.x` and
 * `loadedConfig()` inside a command are real.
 */
import type * as ConfigModule from "../config.js";
import type { ROUTES as RouteTable } from "../contract/routes.js";

let table: typeof RouteTable | undefined;
let config: typeof ConfigModule | undefined;

export async function loadContract(): Promise<typeof RouteTable> {
  [table, config] = await Promise.all([
    table ?? import("../contract/routes.js").then((m) => m.ROUTES),
    config ?? import("../config.js"),
  ]);
  return table;
}

/** The configuration module, once `loadContract()` has run. */
export function loadedConfig(): typeof ConfigModule {
  if (!config) throw new Error("the configuration is read before it was loaded (use action() from cli/run.ts)");
  return config;
}

export const ROUTES: typeof RouteTable = new Proxy({} as typeof RouteTable, {
  get(_t, key) {
    if (!table) throw new Error("the API contract is read before it was loaded (use action() from cli/run.ts)");
    return table[key as keyof typeof RouteTable];
  },
});
