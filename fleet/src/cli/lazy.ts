/**
 * The admin API contract, loaded when a command runs rather than when the CLI starts: the route table's zod schemas
 * are most of the CLI's start-up (~0.1 s), and `--help`, completion and argument errors never need them. `action()`
 * (run.ts) loads the contract before any command body runs, so `ROUTES.x` inside a command is the real route.
 */
import type { ROUTES as RouteTable } from "../contract/routes.js";

let table: typeof RouteTable | undefined;

export async function loadContract(): Promise<typeof RouteTable> {
  table ??= (await import("../contract/routes.js")).ROUTES;
  return table;
}

export const ROUTES: typeof RouteTable = new Proxy({} as typeof RouteTable, {
  get(_t, key) {
    if (!table) throw new Error("the API contract is read before it was loaded (use action() from cli/run.ts)");
    return table[key as keyof typeof RouteTable];
  },
});
