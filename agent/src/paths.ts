/** Where the runtime writes inside its profile (the fleet's layout 2: the root is read-only to the profile). */
import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * `data/state.db` (layout 2). A directory not yet moved to layout 2 (the fleet moves it at the profile's next cold
 * start) keeps `state.db` at its root: that file is used while it exists and `data/state.db` does not.
 */
export function stateDbPath(home: string): string {
  const moved = join(home, "data", "state.db");
  const legacy = join(home, "state.db");
  if (existsSync(moved) || !existsSync(legacy)) return existsSync(join(home, "data")) ? moved : legacy;
  return legacy;
}
