/**
 * Admin API handlers of the swarm tier's home: the engine's swarm (status, init, join token) and its nodes with the
 * profiles on each. `swarm init` also starts the swarm tier in the running fleet (the driver joins `ctx.drivers`).
 */
import { Precondition } from "@twilight/core";
import { initSwarm, joinTokens, listNodes, swarmInfo } from "../docker/swarm.js";
import { memAvailable } from "../lib/proc.js";
import { limitsForPlan } from "../runtime/container-spec.js";
import type { DockerDriver } from "../runtime/docker.js";
import type { SwarmDriver } from "../runtime/swarm.js";
import { NODE_LABEL } from "../runtime/swarm-spec.js";
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
      const docker = needDocker(d).docker;
      const swarm = await status();
      if (swarm.state !== "active" || !swarm.manager) return { swarm, nodes: [] };
      const [nodes, rows, placed] = await Promise.all([
        listNodes(docker),
        d.ctx.registry.list(),
        swarmDriver()?.placements() ?? Promise.resolve([]),
      ]);
      const byName = new Map(rows.map((r) => [r.name, r]));
      return {
        swarm,
        nodes: nodes.map((n) => {
          const here = placed.filter((p) => p.nodeId === n.id && byName.get(p.profile)?.generation === p.generation);
          const self = n.id === swarm.node_id;
          return {
            id: n.id,
            name: n.labels[NODE_LABEL] ?? "",
            hostname: n.hostname,
            role: n.role,
            availability: n.availability,
            state: n.state,
            addr: n.addr,
            self,
            cpus: n.cpus,
            memory_bytes: n.memoryBytes,
            free_bytes: self ? memAvailable() : null,
            profiles: here.map((p) => p.profile).sort(),
            profile_memory_limit_bytes: here.reduce((a, p) => a + limitsForPlan(byName.get(p.profile)?.plan).memoryBytes, 0),
          };
        }),
      };
    },
  };
}
