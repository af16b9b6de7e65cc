/** The one place that maps a tier to its runtime driver. The drivers know nothing of the registry. */
import { DriverError, type Tier } from "@twilight/core";
import type { RuntimeDriver } from "./types.js";

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
