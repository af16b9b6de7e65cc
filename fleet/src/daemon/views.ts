import type { ProfileRow } from "../registry/types.js";
import { agentEntry, processEnv } from "../runtime/process-env.js";
import type { FleetContext } from "../service/context.js";
import { renderSystemdUnit } from "../units/systemd.js";

export function unitFor(ctx: FleetContext, row: ProfileRow): string {
  const env = processEnv({
    dir: row.profile_path,
    appDir: ctx.cfg.appDir,
    nodePath: process.execPath,
    generation: row.generation,
    dotenv: {},
  });
  return renderSystemdUnit({
    profile: row.name,
    dir: row.profile_path,
    uid: row.uid,
    gid: row.gid,
    nodePath: process.execPath,
    entry: agentEntry(ctx.cfg.appDir),
    appDir: ctx.cfg.appDir,
    path: env.PATH as string,
  });
}
