/** Start and stop one profile's workload through its driver, keeping the registry row in step. */

import { join } from "node:path";
import type { Tier } from "@twilight/core";
import { squatter } from "../lib/sockets.js";
import { ensureLayout } from "../profiles/layout.js";
import { pinKeys, readPublishedKeys } from "../profiles/pinned-keys.js";
import type { ProfileRow } from "../registry/types.js";
import type { WorkloadHandle, WorkloadSpec } from "../runtime/types.js";
import { portLeases } from "./allocate.js";
import { audit } from "./audit.js";
import type { FleetContext } from "./context.js";
import { waitHealthy } from "./health.js";

export interface SpecContext {
  skillsDir: string;
  logDir: string;
  image?: string;
}

export function specFor(
  row: ProfileRow,
  ctx: SpecContext,
  override?: { tier?: Tier; generation?: number; port?: number; node?: string | null; dir?: string },
): WorkloadSpec {
  const node = override?.node !== undefined ? override.node : row.node;
  return {
    profile: row.name,
    tier: override?.tier ?? row.tier,
    generation: override?.generation ?? row.generation,
    dir: override?.dir ?? row.profile_path,
    ...(node ? { node } : {}),
    uid: row.uid,
    gid: row.gid,
    port: override?.port ?? row.port,
    plan: row.plan,
    image: row.image ?? ctx.image,
    skillsDir: ctx.skillsDir,
    logDir: join(ctx.logDir, row.name),
  };
}

/** The uid that must be listening on the row's port (the profile's own workload). */
export function listenerUidOf(ctx: FleetContext, row: ProfileRow): number {
  return ctx.drivers.has(row.tier) ? ctx.drivers.for(row.tier).listenerUid(specOf(ctx, row)) : row.uid;
}

/**
 * Where the row's workload answers: loopback with the uid that must own the listener, or another node's address (no
 * listener check there: see RuntimeDriver.address).
 */
export async function endpointOf(
  ctx: FleetContext,
  row: ProfileRow,
  override?: Parameters<typeof specFor>[2],
): Promise<{ host: string; port: number; owner?: number }> {
  const spec = specOf(ctx, row, override);
  if (!ctx.drivers.has(spec.tier)) return { host: "127.0.0.1", port: spec.port, owner: row.uid };
  const d = ctx.drivers.for(spec.tier);
  const remote = await d.address?.(spec);
  return remote ? { host: remote, port: spec.port } : { host: "127.0.0.1", port: spec.port, owner: d.listenerUid(spec) };
}

/** The driver's handle of the row's workload (from the one opaque column). */
export function handleOf(row: Pick<ProfileRow, "workload_handle">): WorkloadHandle {
  if (!row.workload_handle) return {};
  try {
    return JSON.parse(row.workload_handle) as WorkloadHandle;
  } catch {
    return {};
  }
}

/** The registry fields for a new handle (null: no workload): the opaque handle, and the plan's pid / container_id. */
export function handlePatch(h: WorkloadHandle | null): Pick<ProfileRow, "workload_handle" | "pid" | "container_id"> {
  if (!h || Object.keys(h).length === 0) return { workload_handle: null, pid: null, container_id: null };
  return { workload_handle: JSON.stringify(h), pid: h.pid ?? null, container_id: h.containerId ?? null };
}

export function specOf(ctx: FleetContext, row: ProfileRow, override?: Parameters<typeof specFor>[2]): WorkloadSpec {
  return specFor(row, { skillsDir: ctx.cfg.skillsDir, logDir: ctx.cfg.logDir, image: ctx.cfg.image }, override);
}

/**
 * A cold start finds the profile's port held by another uid (a tenant bound it while the profile was stopped or asleep,
 * or a stranger took it): the profile moves to a free port (the front door routes by the registry, callers never see
 * the port), so nobody can keep it down by squatting, and nothing of it ever goes to the squatter.
 */
async function moveOffSquattedPort(ctx: FleetContext, row: ProfileRow, listenerUid: number): Promise<ProfileRow> {
  const other = squatter(row.port, listenerUid);
  if (!other) return row;
  const mark = portLeases.mark();
  const used = new Set((await ctx.registry.list()).map((r) => r.port));
  used.add(row.port);
  const lease = await portLeases.lease(ctx.cfg.ports, used, mark);
  try {
    const moved = await ctx.registry.update(row.name, { port: lease.port });
    await audit(ctx, {
      profile: row.name,
      actor: "fleet",
      action: "port-moved",
      result: "info",
      detail: { from: row.port, to: lease.port, reason: other },
    });
    ctx.log.warn({ profile: row.name, from: row.port, to: lease.port, reason: other }, "profile port squatted; moved");
    return moved;
  } finally {
    lease.release();
  }
}

/** Before a runtime takes the directory: the fleet checks and fixes it (layout 2; a planted link stops the start here). */
export async function prepareDirectory(ctx: FleetContext, row: ProfileRow): Promise<void> {
  const { changed } = await ensureLayout(row.profile_path, row.uid, row.gid);
  if (changed.length)
    await audit(ctx, { profile: row.name, actor: "fleet", action: "layout", result: "info", detail: { changed } });
  await pinKeys(row.profile_path, row.gid, await readPublishedKeys(ctx.cfg.mcp.dataDir, ctx.cfg.mcp.uid));
}

/** Start the row's workload; with `wait`, until /health answers ok (the row ends `running`), else it stays `starting`. */
export async function startWorkload(ctx: FleetContext, row0: ProfileRow, wait: boolean): Promise<ProfileRow> {
  let row = row0;
  let spec = specOf(ctx, row);
  const driver = ctx.drivers.for(row.tier);
  if (!(await driver.inspect(spec, handleOf(row))).running) {
    // a port on another node is in that task's own namespace there: nobody here can squat it
    if (!(await driver.address?.(spec))) row = await moveOffSquattedPort(ctx, row, driver.listenerUid(spec));
    spec = specOf(ctx, row);
    await prepareDirectory(ctx, row);
  }
  const h = await driver.start(spec);
  let cur = await ctx.registry.update(row.name, {
    ...handlePatch(h),
    status: "starting",
    last_started_at: new Date(ctx.now()).toISOString(),
  });
  if (!wait) return cur;
  const ep = await endpointOf(ctx, cur);
  await waitHealthy({
    port: ep.port,
    host: ep.host,
    owner: ep.owner,
    timeoutMs: ctx.cfg.startTimeoutMs,
    alive: async () => (await driver.inspect(spec, h)).running,
    // a probe is one loopback GET; at the default 50 ms a spawn waited ~25 ms on average after the runtime was up
    intervalMs: 10,
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
