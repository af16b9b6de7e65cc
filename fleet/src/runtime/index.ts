/** Picks the runtime driver for a profile from its registry row: the one place that maps a tier to a driver. */
import { join } from "node:path";
import { DriverError, type Tier } from "@twilight/core";
import type { ProfileRow } from "../registry/types.js";
import type { RuntimeDriver, WorkloadHandle, WorkloadSpec } from "./types.js";

export interface SpecContext {
  skillsDir: string;
  logDir: string;
  image?: string;
}

export function specFor(
  row: ProfileRow,
  ctx: SpecContext,
  override?: { tier?: Tier; generation?: number; port?: number },
): WorkloadSpec {
  return {
    profile: row.name,
    tier: override?.tier ?? row.tier,
    generation: override?.generation ?? row.generation,
    dir: row.profile_path,
    uid: row.uid,
    gid: row.gid,
    port: override?.port ?? row.port,
    plan: row.plan,
    image: row.image ?? ctx.image,
    skillsDir: ctx.skillsDir,
    logDir: join(ctx.logDir, row.name),
  };
}

export function handleOf(row: ProfileRow): WorkloadHandle {
  return {
    pid: row.pid ?? undefined,
    pidStartTime: row.pid_start_time ?? undefined,
    containerId: row.container_id ?? undefined,
  };
}

export class Drivers {
  constructor(private readonly byTier: Partial<Record<Tier, RuntimeDriver>>) {}

  for(tier: Tier): RuntimeDriver {
    const d = this.byTier[tier];
    if (!d)
      throw new DriverError(tier === "container" ? "docker" : "process", `no driver for tier ${tier} on this host`, {
        hint:
          tier === "container" ? "start Docker Engine (scripts/lib/common.sh ensure_docker) and restart the fleet" : undefined,
      });
    return d;
  }

  has(tier: Tier): boolean {
    return this.byTier[tier] !== undefined;
  }

  all(): RuntimeDriver[] {
    return Object.values(this.byTier).filter((d): d is RuntimeDriver => d !== undefined);
  }
}
