/**
 * Label-scoped cleanup and the orphan report. Ownership is proven before anything is removed: a container is ours only
 * when it carries io.twilight.managed-by=twilight-fleet AND the labels set at create time (role, and for profiles the
 * profile and generation). managed-by alone is not proof: a container inherits its image's labels, and our images carry
 * managed-by, so `docker run twilight/node-base` by hand would have it too. Docker's label filter narrows the listing and
 * the pure selectors below check the labels again, so a filter mistake can never widen what is removed.
 */
import { InputInvalid, LABELS, MANAGED_BY } from "@twilight/core";
import type Docker from "dockerode";
import { engineError, isNotFound } from "../docker/client.js";
import { ROLE_PROFILE } from "./container-spec.js";

/** The fields of a container listing we look at (a subset of Docker's ContainerInfo). */
export interface ContainerSummary {
  Id: string;
  Names: string[];
  Labels: Record<string, string>;
  State: string;
  Mounts?: Array<{ Source?: string; Destination?: string }>;
}

export interface OwnedContainer {
  id: string;
  name: string;
  profile: string;
  generation: number;
  running: boolean;
}

export function isOurs(c: Pick<ContainerSummary, "Labels">): boolean {
  return c.Labels?.[LABELS.managedBy] === MANAGED_BY;
}

function nameOf(c: ContainerSummary): string {
  return (c.Names[0] ?? "").replace(/^\//, "");
}

/** Our profile containers (role=profile with a profile label), optionally of one profile. Pure. */
export function selectProfileContainers(list: ContainerSummary[], opts: { profile?: string } = {}): OwnedContainer[] {
  return list
    .filter((c) => isOurs(c) && c.Labels[LABELS.role] === ROLE_PROFILE && typeof c.Labels[LABELS.profile] === "string")
    .filter((c) => opts.profile === undefined || c.Labels[LABELS.profile] === opts.profile)
    .map((c) => ({
      id: c.Id,
      name: nameOf(c),
      profile: c.Labels[LABELS.profile] as string,
      generation: Number(c.Labels[LABELS.generation] ?? Number.NaN),
      running: c.State === "running",
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Orphans: our profile containers the registry does not know. `known` holds registry names: a container is known when
 * its profile label or its container name is in the set. Pass workload names (`hermes-<p>-g<gen>`) to also report
 * containers of a stale generation; pass profile names to report only profiles that have no row at all. Pure.
 */
export function selectOrphans(list: ContainerSummary[], known: ReadonlySet<string>): OwnedContainer[] {
  return selectProfileContainers(list).filter((c) => !known.has(c.profile) && !known.has(c.name));
}

async function listOurs(docker: Docker, profile?: string): Promise<ContainerSummary[]> {
  const label = [`${LABELS.managedBy}=${MANAGED_BY}`, `${LABELS.role}=${ROLE_PROFILE}`];
  if (profile !== undefined) label.push(`${LABELS.profile}=${profile}`);
  try {
    return (await docker.listContainers({ all: true, filters: { label } })) as unknown as ContainerSummary[];
  } catch (e) {
    throw engineError("list containers", e);
  }
}

/** Report our profile containers with no registry row. Changes nothing. */
export async function orphanReport(docker: Docker, known: ReadonlySet<string>): Promise<OwnedContainer[]> {
  return selectOrphans(await listOurs(docker), known);
}

/** Remove one container after re-checking its labels on the engine; a container gone meanwhile is fine. */
async function removeIfOurs(docker: Docker, id: string): Promise<boolean> {
  const c = docker.getContainer(id);
  try {
    const info = await c.inspect();
    if (info.Config.Labels?.[LABELS.managedBy] !== MANAGED_BY) return false;
    await c.remove({ force: true, v: true });
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw engineError(`remove container ${id.slice(0, 12)}`, e);
  }
}

export interface CleanupOptions {
  /** Only this profile's containers; omit with `all: true` to remove every profile container of ours. */
  profile?: string;
  all?: boolean;
  /** Remove only these (e.g. the orphan report's ids); still checked against the labels. */
  onlyIds?: ReadonlySet<string>;
}

/** Remove our profile containers (force: a running one is killed). Returns what was removed. Never touches unlabelled ones. */
export async function cleanupContainers(docker: Docker, opts: CleanupOptions): Promise<OwnedContainer[]> {
  if (opts.profile === undefined && !opts.all && !opts.onlyIds)
    throw new InputInvalid("cleanup: say which containers (a profile, all, or a list of ids)");
  const targets = selectProfileContainers(await listOurs(docker, opts.profile), { profile: opts.profile }).filter(
    (c) => !opts.onlyIds || opts.onlyIds.has(c.id),
  );
  const removed: OwnedContainer[] = [];
  for (const t of targets) if (await removeIfOurs(docker, t.id)) removed.push(t);
  return removed;
}

/**
 * Remove every container that carries our managed-by label AND all of `labels` (any role: profiles, the data service,
 * test and benchmark containers). Used by tests and benchmarks to clean up what they created.
 */
export async function removeLabelled(docker: Docker, labels: Record<string, string>): Promise<number> {
  // managed-by alone is inherited from our images: require at least one label that only create-time sets.
  if (!Object.keys(labels).some((k) => k !== LABELS.managedBy))
    throw new InputInvalid("removeLabelled needs a label besides managed-by (images carry managed-by too)");
  const label = [`${LABELS.managedBy}=${MANAGED_BY}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)];
  let list: ContainerSummary[];
  try {
    list = (await docker.listContainers({ all: true, filters: { label } })) as unknown as ContainerSummary[];
  } catch (e) {
    throw engineError("list containers", e);
  }
  let n = 0;
  for (const c of list.filter((c) => isOurs(c) && Object.entries(labels).every(([k, v]) => c.Labels[k] === v))) {
    if (await removeIfOurs(docker, c.Id)) n++;
  }
  return n;
}
