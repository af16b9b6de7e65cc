/**
 * Where a new swarm profile goes: PURE. Among the nodes that can hold a profile (ready, active, named, with a profiles
 * root the fleet reaches), the one with the most memory left after the plan limits of the profiles already there,
 * under a per-node cap on the number of profiles. Ties go to the fleet's own node, then by name (stable).
 */
import { limitsForPlan } from "./limits.js";
import type { FleetNode } from "./swarm.js";

export interface PlacementInput {
  nodes: FleetNode[];
  /** Profiles per node name, with the memory limit of each (bytes). */
  load: Map<string, number[]>;
  /** The memory limit of the profile to place (bytes). */
  need: number;
  /** At most this many profiles on one node (0: no cap). */
  maxPerNode: number;
  /** The fleet's own profiles root (the root of the fleet's own node when it has no label). */
  ownRoot: string;
}

export interface Placement {
  node: string;
  root: string;
}

/**
 * What each node holds (registry rows of the swarm tier; a row without a node is on `self`): the memory limit of each
 * of its profiles, and their names. The one place placement, `move` and `nodes` count a node's profiles.
 */
export function nodeLoad(
  rows: ReadonlyArray<{ name: string; tier: string; node: string | null; plan: string | null }>,
  self: string,
): { load: Map<string, number[]>; names: Map<string, string[]> } {
  const load = new Map<string, number[]>();
  const names = new Map<string, string[]>();
  for (const r of rows)
    if (r.tier === "swarm") {
      const n = r.node ?? self;
      load.set(n, [...(load.get(n) ?? []), limitsForPlan(r.plan).memoryBytes]);
      names.set(n, [...(names.get(n) ?? []), r.name]);
    }
  return { load, names };
}

/** Why a node cannot take a profile, or undefined when it can. */
export function unfit(n: FleetNode, i: Omit<PlacementInput, "nodes">): string | undefined {
  if (!n.name) return "it has no io.twilight.node label";
  if (n.state !== "ready") return `it is ${n.state}`;
  if (n.availability !== "active") return `its availability is ${n.availability}`;
  if (!n.self && !n.root) return "it has no io.twilight.profiles-root label (a path the fleet reaches too)";
  const count = i.load.get(n.name)?.length ?? 0;
  if (i.maxPerNode > 0 && count >= i.maxPerNode) return `it holds ${count} profiles (the cap is ${i.maxPerNode})`;
  return undefined;
}

export function rootOf(n: FleetNode, ownRoot: string): string {
  return n.root ?? ownRoot;
}

/** Memory a node has left for profiles (its total minus the limits of those on it). */
export function headroom(n: FleetNode, load: Map<string, number[]>): number {
  return n.memoryBytes - (load.get(n.name) ?? []).reduce((a, b) => a + b, 0);
}

/** The node for a new profile, or a reason per node why none fits. */
export function place(i: PlacementInput): Placement | { none: Record<string, string> } {
  const fit = i.nodes.filter((n) => !unfit(n, i));
  if (fit.length === 0) return { none: Object.fromEntries(i.nodes.map((n) => [n.name || n.id, unfit(n, i) as string])) };
  const best = [...fit].sort(
    (a, b) => headroom(b, i.load) - headroom(a, i.load) || Number(b.self) - Number(a.self) || a.name.localeCompare(b.name),
  )[0] as FleetNode;
  return { node: best.name, root: rootOf(best, i.ownRoot) };
}
