/**
 * Level-triggered reconciliation at daemon start, before the supervisor adopts and starts: whatever a daemon killed at
 * any instant left behind is brought back to a state the registry can stand behind.
 * - `creating` (a spawn that never finished): its workload, token, directory and row are removed; billing's retry with
 *   the same order id creates it again.
 * - `migrating` (a migration that never finished): workloads of any other generation are stopped and removed, config.yaml
 *   is rendered again for the row's tier, and the row goes to `starting` for the supervisor to adopt or start.
 * - Workloads of this fleet (same profile directory) whose generation is not the row's are removed.
 * - tokens.json equals the registry: every profile's token registered, none of a profile that no longer exists.
 * - the model gateway's keys.json likewise (virtual model keys).
 * Workloads of other fleets on the same host (another ops dir) are never touched: ownership is proven by directory.
 */
import { readdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { isPlan, isProfileName } from "@twilight/core";
import { killUid } from "../lib/proc.js";
import { archiveProfileDir, profileDir, readProfileEnv, writeConfig } from "../profiles/layout.js";
import type { ProfileRow } from "../registry/types.js";
import type { ManagedWorkload } from "../runtime/types.js";
import type { RenderInput } from "../template/render.js";
import { audit } from "../workload/audit.js";
import type { FleetContext } from "../workload/context.js";
import { handleOf, specOf } from "../workload/workloads.js";

export interface ReconcileReport {
  abandonedSpawns: string[];
  abandonedMigrations: string[];
  removedWorkloads: string[];
  tokensAdded: string[];
  tokensRevoked: string[];
  /** Virtual model keys (the gateway's keys.json) registered from a profile's .env / revoked for a gone profile. */
  modelKeysAdded: string[];
  modelKeysRevoked: string[];
  archivedDirs: string[];
}

async function managed(ctx: FleetContext): Promise<ManagedWorkload[]> {
  const out: ManagedWorkload[] = [];
  for (const d of ctx.drivers.all()) out.push(...(await d.listManaged().catch(() => [])));
  return out;
}

/** Stop and remove this fleet's workloads of `row` other than its current generation (or all, with `all`). */
export async function removeStrayWorkloads(ctx: FleetContext, row: ProfileRow, all = false): Promise<string[]> {
  const removed: string[] = [];
  for (const w of await managed(ctx)) {
    if (w.profile !== row.name || w.dir !== row.profile_path) continue;
    if (!all && w.generation === row.generation && w.tier === row.tier) continue;
    await removeWorkload(ctx, row, w);
    removed.push(`${row.name}/g${w.generation}/${w.tier}`);
  }
  return removed;
}

async function removeWorkload(ctx: FleetContext, row: ProfileRow, w: ManagedWorkload): Promise<void> {
  if (w.pid !== undefined && w.tier === "prefab") {
    try {
      process.kill(-w.pid, "SIGKILL");
    } catch {
      /* gone */
    }
    return;
  }
  if (!ctx.drivers.has(w.tier)) return;
  const spec = specOf(ctx, row, { tier: w.tier, generation: w.generation });
  const driver = ctx.drivers.for(w.tier);
  await driver.stop(spec, { timeoutMs: 2_000 }).catch(() => undefined);
  await driver.remove(spec).catch(() => undefined);
}

export async function reconcileAtStart(
  ctx: FleetContext,
  renderInput: (row: ProfileRow, tier: ProfileRow["tier"]) => RenderInput,
): Promise<ReconcileReport> {
  const r: ReconcileReport = {
    abandonedSpawns: [],
    abandonedMigrations: [],
    removedWorkloads: [],
    tokensAdded: [],
    tokensRevoked: [],
    modelKeysAdded: [],
    modelKeysRevoked: [],
    archivedDirs: [],
  };
  const workloads = await managed(ctx);
  const ours = (row: ProfileRow) => workloads.filter((w) => w.profile === row.name && w.dir === row.profile_path);
  for (const row of await ctx.registry.list()) {
    if (row.status === "creating") {
      for (const w of ours(row)) await removeWorkload(ctx, row, w);
      killUid(row.uid);
      await ctx.tokens.revoke(row.name).catch(() => undefined);
      await ctx.modelKeys.revoke(row.name).catch(() => undefined);
      // the directory under its own root: the fleet's, or the root of the swarm node that was to hold it
      await rm(profileDir(dirname(row.profile_path), row.name), { recursive: true, force: true });
      await ctx.registry.remove(row.name);
      r.abandonedSpawns.push(row.name);
      await audit(ctx, {
        profile: row.name,
        actor: "fleet",
        action: "spawn-abandoned",
        result: "error",
        detail: { uid: row.uid },
      });
      continue;
    }
    for (const w of ours(row)) {
      // a prefab process the row does not name was started by a daemon killed before it recorded the pid: boot would
      // start another beside it, so it goes (level-triggered: what the row names is the one that runs)
      const unrecorded = w.tier === "prefab" && w.pid !== undefined && w.pid !== (handleOf(row).pid ?? row.pid);
      if (w.generation === row.generation && w.tier === row.tier && !unrecorded) continue;
      await removeWorkload(ctx, row, w);
      r.removedWorkloads.push(`${row.name}/g${w.generation}/${w.tier}${unrecorded ? ` (unrecorded pid ${w.pid})` : ""}`);
    }
    if (row.tier === "container" && row.status !== "migrating") {
      // level-triggered like the rest: config.yaml is what this fleet renders for the row, so a container profile made
      // before the data service was reached over its socket (FLEET_CONTAINER_NETWORK) gets it at its next start
      await writeConfig(row.profile_path, ctx.cfg.templateDir, renderInput(row, row.tier), { uid: 0, gid: row.gid }).catch(
        () => undefined,
      );
    }
    if (row.status === "migrating") {
      await writeConfig(row.profile_path, ctx.cfg.templateDir, renderInput(row, row.tier), { uid: 0, gid: row.gid }).catch(
        () => undefined,
      );
      await ctx.registry.update(row.name, {
        status: "starting",
        last_error: "a migration was interrupted by a fleet restart; the profile stays where it was",
      });
      r.abandonedMigrations.push(row.name);
      await audit(ctx, { profile: row.name, actor: "fleet", action: "migrate-abandoned", result: "error", detail: {} });
    }
  }
  // a directory without a row (a spawn killed between its directory and its row, or kept by an older rm) becomes a
  // root-only archive: nothing of it stays readable by the uid the next profile may get
  const rows = await ctx.registry.list();
  const known = new Set(rows.map((x) => x.name));
  for (const e of await readdir(ctx.cfg.profilesRoot).catch(() => [] as string[])) {
    if (e.startsWith(".") || known.has(e) || !isProfileName(e)) continue;
    const archive = await archiveProfileDir(ctx.cfg.profilesRoot, e, new Date(ctx.now()));
    if (archive) {
      r.archivedDirs.push(archive);
      await audit(ctx, { profile: e, actor: "fleet", action: "orphan-dir-archived", result: "info", detail: { archive } });
    }
  }
  // the tokens file follows the registry
  const names = new Set(rows.map((x) => x.name));
  const registered = new Set(await ctx.tokens.profiles());
  for (const p of registered)
    if (!names.has(p)) {
      await ctx.tokens.revoke(p);
      r.tokensRevoked.push(p);
    }
  for (const row of rows) {
    if (registered.has(row.name)) continue;
    const token = (await readProfileEnv(row.profile_path, row.uid).catch(() => ({}) as Record<string, string>)).MCP_TUSHARE_TOKEN;
    if (!token) continue;
    try {
      await ctx.tokens.set(row.name, token);
      r.tokensAdded.push(row.name);
    } catch (e) {
      ctx.log.error({ profile: row.name, err: (e as Error).message }, "reconcile: could not register the profile's token");
    }
  }
  await reconcileModelKeys(ctx, rows, r);
  return r;
}

/**
 * The gateway's keys.json follows the registry too: a key for every profile meant to run (profiles spawned before the
 * gateway get theirs), none for one that is stopped (billing stops a profile whose paid period ended: its key, which
 * the tenant can read, must not keep spending the operator's upstream) or removed.
 */
async function reconcileModelKeys(ctx: FleetContext, all: ProfileRow[], r: ReconcileReport): Promise<void> {
  const rows = all.filter((x) => x.desired_state !== "stopped");
  const names = new Set(rows.map((x) => x.name));
  const registered = new Set(await ctx.modelKeys.profiles());
  for (const p of registered)
    if (!names.has(p)) {
      await ctx.modelKeys.revoke(p);
      r.modelKeysRevoked.push(p);
    }
  for (const row of rows) {
    if (registered.has(row.name)) continue;
    const key = (await readProfileEnv(row.profile_path, row.uid).catch(() => ({}) as Record<string, string>)).SILICONFLOW_API_KEY;
    if (!key) continue;
    try {
      await ctx.modelKeys.set(row.name, isPlan(row.plan) ? row.plan : "basic", key);
      r.modelKeysAdded.push(row.name);
    } catch (e) {
      ctx.log.error({ profile: row.name, err: (e as Error).message }, "reconcile: could not register the profile's model key");
    }
  }
}
