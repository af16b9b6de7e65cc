/**
 * Admin API handlers of the swarm tier's home: the engine's swarm (status, init, join token) and its nodes with the
 * profiles on each. `swarm init` also starts the swarm tier in the running fleet (the driver joins `ctx.drivers`).
 */
import { Precondition } from "@twilight/core";
import { initSwarm, joinTokens, listNodes, swarmInfo } from "../docker/swarm.js";
import { memAvailable } from "../lib/proc.js";
import type { DockerDriver } from "../runtime/docker.js";
import { headroom, nodeLoad, rootOf, unfit } from "../runtime/placement.js";
import type { SwarmDriver } from "../runtime/swarm.js";
import type { FleetContext } from "../workload/context.js";
import type { Handlers } from "./mount.js";

export interface SwarmDeps {
  ctx: FleetContext;
  docker: DockerDriver | undefined;
  /** Connect the swarm tier's driver (after an init) and add it to the fleet; undefined when it cannot run here. */
  connectTier: () => Promise<SwarmDriver | undefined>;
}

export type SwarmHandlers = Pick<Handlers, "swarmStatus" | "swarmInit" | "swarmJoinToken" | "listNodes">;

function needDocker(d: SwarmDeps): NonNullable<SwarmDeps["docker"]> {
  if (!d.docker)
    throw new Precondition("Docker Engine is not available to this fleet", {
      hint: "start it (scripts/lib/common.sh ensure_docker) and restart the fleet",
    });
  return d.docker;
}

export function swarmHandlers(d: SwarmDeps): SwarmHandlers {
  const swarmDriver = () => (d.ctx.drivers.has("swarm") ? (d.ctx.drivers.for("swarm") as SwarmDriver) : undefined);
  const status = async () => {
    const s = await swarmInfo(needDocker(d).docker);
    const drv = swarmDriver();
    return {
      state: s.state,
      manager: s.manager,
      ...(s.nodeId ? { node_id: s.nodeId } : {}),
      ...(drv ? { node: drv.identity.node } : {}),
      tier: Boolean(drv),
      ...(s.managers !== undefined ? { managers: s.managers } : {}),
      ...(s.nodes !== undefined ? { nodes: s.nodes } : {}),
    };
  };
  return {
    swarmStatus: status,
    swarmInit: async ({ body, progress }) => {
      const docker = needDocker(d).docker;
      progress("initialising the swarm (idempotent)");
      await initSwarm(docker, body.advertise_addr);
      progress("labelling this node and starting the swarm tier");
      await d.connectTier();
      return status();
    },
    swarmJoinToken: async () => {
      const t = await joinTokens(needDocker(d).docker);
      return { ...t, command: `docker swarm join --token ${t.worker} ${t.addr}` };
    },
    listNodes: async () => {
      const swarm = await status();
      const drv = swarmDriver();
      if (swarm.state !== "active" || !swarm.manager || !drv) return { swarm, nodes: [] };
      const [nodes, rows, raw] = await Promise.all([drv.nodes(0), d.ctx.registry.list(), listNodes(needDocker(d).docker)]);
      // where each swarm profile's directory is: the registry says (a profile's task may be gone, its data is not)
      const { load, names } = nodeLoad(rows, drv.identity.node);
      const policy = { load, need: 0, maxPerNode: d.ctx.cfg.nodeMaxProfiles, ownRoot: d.ctx.cfg.profilesRoot };
      return {
        swarm,
        nodes: nodes.map((n) => {
          const r = raw.find((x) => x.id === n.id);
          const limits = (load.get(n.name) ?? []).reduce((a, b) => a + b, 0);
          return {
            id: n.id,
            name: n.name,
            hostname: r?.hostname ?? "",
            labels: r?.labels ?? {},
            role: r?.role ?? "",
            availability: n.availability,
            state: n.state,
            addr: n.addr,
            self: n.self,
            cpus: r?.cpus ?? 0,
            memory_bytes: n.memoryBytes,
            free_bytes: n.self ? memAvailable() : null,
            profiles: (n.name ? (names.get(n.name) ?? []) : []).sort(),
            profile_memory_limit_bytes: limits,
            headroom_bytes: headroom(n, load),
            root: n.self ? rootOf(n, d.ctx.cfg.profilesRoot) : (n.root ?? null),
            placeable: unfit(n, policy) ?? null,
          };
        }),
      };
    },
  };
}
