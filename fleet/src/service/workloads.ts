/** Start and stop one profile's workload through its driver, keeping the registry row in step. */
import type { ProfileRow } from "../registry/types.js";
import { handleOf, specFor } from "../runtime/index.js";
import type { WorkloadSpec } from "../runtime/types.js";
import type { FleetContext } from "./context.js";
import { waitHealthy } from "./health.js";

export function specOf(ctx: FleetContext, row: ProfileRow, override?: Parameters<typeof specFor>[2]): WorkloadSpec {
  return specFor(row, { skillsDir: ctx.cfg.skillsDir, logDir: ctx.cfg.logDir, image: ctx.cfg.image }, override);
}

/** Start the row's workload; with `wait`, until /health answers ok (the row ends `running`), else it stays `starting`. */
export async function startWorkload(ctx: FleetContext, row: ProfileRow, wait: boolean): Promise<ProfileRow> {
  const spec = specOf(ctx, row);
  const driver = ctx.drivers.for(row.tier);
  const h = await driver.start(spec);
  let cur = await ctx.registry.update(row.name, {
    pid: h.pid ?? null,
    pid_start_time: h.pidStartTime ?? null,
    container_id: h.containerId ?? null,
    status: "starting",
    last_started_at: new Date(ctx.now()).toISOString(),
  });
  if (!wait) return cur;
  await waitHealthy({
    port: cur.port,
    timeoutMs: ctx.cfg.startTimeoutMs,
    alive: async () => (await driver.inspect(spec, h)).running,
  });
  cur = await ctx.registry.update(row.name, {
    status: "running",
    last_health_check: new Date(ctx.now()).toISOString(),
    last_error: null,
  });
  return cur;
}

export async function stopWorkload(ctx: FleetContext, row: ProfileRow, timeoutMs = ctx.cfg.stopTimeoutMs): Promise<void> {
  const spec = specOf(ctx, row);
  const driver = ctx.drivers.for(row.tier);
  await driver.stop(spec, { timeoutMs });
}

export async function isRunning(ctx: FleetContext, row: ProfileRow): Promise<boolean> {
  if (!ctx.drivers.has(row.tier)) return false;
  return (await ctx.drivers.for(row.tier).inspect(specOf(ctx, row), handleOf(row))).running;
}
