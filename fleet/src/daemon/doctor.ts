/**
 * The daemon's side of `hermes-admin doctor`: facts only the daemon holds (its Docker connection, the registry, the
 * drivers' view of running workloads, the data service) judged by the pure checks in lib/doctor-checks.ts. The CLI adds
 * the host-side rows (dockerd socket, file modes, disk) and works when this daemon is down.
 */
import { join, sep } from "node:path";
import type { Logger } from "@twilight/core";
import { imageExists } from "../docker/client.js";
import { imageRefs, projectVersion } from "../images/index.js";
import {
  type Check,
  checkClockSkew,
  checkContainerNetwork,
  checkCrashLoops,
  checkDaemonDocker,
  checkDataService,
  checkImages,
  checkOrphans,
  checkPinnedKeys,
  checkPortRange,
  checkRegistry,
  checkSandbox,
  checkTransientRows,
} from "../lib/doctor-checks.js";
import { readNoFollow } from "../lib/safe-fs.js";
import { McpService } from "../mcp-service/index.js";
import { PINNED_KEYS_REL, readPublishedKeys } from "../profiles/pinned-keys.js";
import type { ProfileRow } from "../registry/types.js";
import type { DockerDriver } from "../runtime/docker.js";
import type { ManagedWorkload } from "../runtime/types.js";
import type { FleetContext } from "../workload/context.js";

export interface DoctorDeps {
  ctx: FleetContext;
  docker: DockerDriver | undefined;
  sandbox: string;
  log: Logger;
  /** A row in creating/starting/migrating longer than this is stuck (default: start timeout x 4, at least 2 min). */
  transientGraceMs?: number;
}

/** This fleet's workloads (by profile directory) that no row accounts for: no row, another directory, a stale generation. */
export function orphanWorkloads(
  workloads: readonly ManagedWorkload[],
  rows: readonly ProfileRow[],
  profilesRoot: string,
): ManagedWorkload[] {
  const byName = new Map(rows.map((r) => [r.name, r]));
  return workloads.filter((w) => {
    if (!w.dir || !w.dir.startsWith(profilesRoot + sep)) return false; // another fleet's, or not attributable
    const row = byName.get(w.profile);
    if (!row || row.profile_path !== w.dir) return true;
    if (row.status === "migrating" || row.status === "creating") return false; // two generations are expected then
    return w.generation !== row.generation || w.tier !== row.tier;
  });
}

const failed = (id: string, what: string, e: unknown): Check => ({
  id,
  status: "fail",
  what,
  why: (e as Error)?.message ?? String(e),
  fix: "hermes-admin logs of the daemon: ops/logs/fleet.log",
});

export async function daemonDoctor(d: DoctorDeps): Promise<Check[]> {
  const { cfg, registry } = d.ctx;
  const checks: Check[] = [checkDaemonDocker({ connected: Boolean(d.docker) }), checkSandbox(d.sandbox)];
  checks.push(
    await registry
      .integrity()
      .then((r) => checkRegistry({ backend: registry.backend, ...r }))
      .catch((e) => checkRegistry({ backend: registry.backend, ok: false, detail: (e as Error).message })),
  );
  const rows = await registry.list().catch(() => [] as ProfileRow[]);
  const grace = d.transientGraceMs ?? Math.max(120_000, cfg.startTimeoutMs * 4);
  checks.push(checkTransientRows(rows, d.ctx.now(), grace));
  checks.push(checkCrashLoops(rows, Math.max(3, Math.ceil(cfg.restart.maxTries / 2))));
  checks.push(checkPortRange(new Set(rows.map((r) => r.port)).size, cfg.ports));

  for (const kind of ["processes", "containers"] as const) {
    const tier = kind === "processes" ? "prefab" : "container";
    if (!d.ctx.drivers.has(tier)) continue;
    try {
      const list = await d.ctx.drivers.for(tier).listManaged();
      const orphans = orphanWorkloads(list, rows, cfg.profilesRoot).map((w) => ({
        name: `hermes-${w.profile}-g${w.generation}`,
        detail: w.pid ? `pid ${w.pid}` : w.containerId ? `container ${w.containerId.slice(0, 12)}` : undefined,
      }));
      checks.push(checkOrphans(kind, orphans));
    } catch (e) {
      checks.push(failed(`orphan-${kind}`, `could not list the ${tier} workloads`, e));
    }
  }

  checks.push(await pinnedKeysCheck(d.ctx, rows));
  if (d.docker) {
    const docker = d.docker.docker;
    checks.push(
      await docker
        .info()
        .then((i: { SystemTime?: string }) => checkClockSkew({ hostMs: Date.now(), engineTime: i.SystemTime }))
        .catch((e: unknown) => failed("clock", "could not read the Docker Engine's time", e)),
    );
    checks.push(
      await docker
        .getNetwork(cfg.containerNetwork)
        .inspect()
        .then((n: { Driver?: string; Options?: Record<string, string> }) =>
          checkContainerNetwork({ network: cfg.containerNetwork, driver: n.Driver, options: n.Options ?? {} }),
        )
        .catch((e: unknown) => failed("container-network", `could not inspect the network ${cfg.containerNetwork}`, e)),
    );
    try {
      const refs = imageRefs(await projectVersion());
      const images = await Promise.all(
        [cfg.image ?? refs.profile, refs.mcp].map(async (ref) => ({ ref, present: await imageExists(docker, ref) })),
      );
      checks.push(checkImages(images));
    } catch (e) {
      checks.push(failed("images", "could not inspect the images", e));
    }
    try {
      const mcp = new McpService({
        docker,
        name: cfg.mcp.container,
        hostPort: cfg.mcp.hostPort,
        dataDir: cfg.mcp.dataDir,
        log: d.log,
      });
      const s = await mcp.status();
      checks.push(
        checkDataService({
          ...s,
          seeding: s.health?.seeding ?? null,
          lagDays: s.health?.open_days_behind ?? null,
        }),
      );
    } catch (e) {
      checks.push(failed("data-service", "could not inspect the data service", e));
    }
  }
  return checks;
}

/** The data service's published key set against what each (layout-2) profile pins; never follows a link. */
async function pinnedKeysCheck(ctx: DoctorDeps["ctx"], rows: readonly ProfileRow[]): Promise<Check> {
  try {
    const published = (
      JSON.parse(await readPublishedKeys(ctx.cfg.mcp.dataDir, ctx.cfg.mcp.uid)) as {
        keys: Array<{ key_id: string; not_after?: string | null }>;
      }
    ).keys;
    const profiles = await Promise.all(
      rows.map(async (r) => {
        try {
          const text = await readNoFollow(join(r.profile_path, PINNED_KEYS_REL), { owners: [0], maxBytes: 256 * 1024 });
          return { name: r.name, pinned: (JSON.parse(text) as { keys: Array<{ key_id: string }> }).keys.map((k) => k.key_id) };
        } catch {
          return { name: r.name, pinned: null };
        }
      }),
    );
    return checkPinnedKeys(published, profiles);
  } catch (e) {
    return failed("cite-keys", "could not read the data service's published keys", e);
  }
}
