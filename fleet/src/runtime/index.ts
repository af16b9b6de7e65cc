/** The one place that maps a tier to its runtime driver. The drivers know nothing of the registry. */
import { DriverError, type Tier } from "@twilight/core";
import type { RuntimeDriver } from "./types.js";

const HINTS: Record<Tier, string | undefined> = {
  prefab: undefined,
  container: "start Docker Engine (scripts/lib/common.sh ensure_docker) and restart the fleet",
  swarm: "make this host a swarm manager (`hermes-admin swarm init`); the fleet picks the tier up without a restart",
};

export class Drivers {
  constructor(private readonly byTier: Partial<Record<Tier, RuntimeDriver>>) {}

  for(tier: Tier): RuntimeDriver {
    const d = this.byTier[tier];
    if (!d)
      throw new DriverError(
        tier === "prefab" ? "process" : tier === "swarm" ? "swarm" : "docker",
        `no driver for tier ${tier} on this host`,
        {
          hint: HINTS[tier],
        },
      );
    return d;
  }

  has(tier: Tier): boolean {
    return this.byTier[tier] !== undefined;
  }

  all(): RuntimeDriver[] {
    return Object.values(this.byTier).filter((d): d is RuntimeDriver => d !== undefined);
  }

  /**
   * A tier that becomes available while the fleet runs (`hermes-admin swarm init`): its driver joins, and whoever
   * watches every driver (`each`) is told. A tier that has a driver keeps it.
   */
  add(tier: Tier, driver: RuntimeDriver): boolean {
    if (this.byTier[tier]) return false;
    this.byTier[tier] = driver;
    for (const w of this.watchers) w(driver);
    return true;
  }

  /** Call `fn` for every driver now and for every driver added later. */
  each(fn: (d: RuntimeDriver) => void): void {
    this.watchers.push(fn);
    for (const d of this.all()) fn(d);
  }

  private readonly watchers: Array<(d: RuntimeDriver) => void> = [];
}
