/**
 * The engine's swarm, through the Engine API: state, init, join tokens, nodes. A leaf like client.ts: what the swarm
 * tier's driver (runtime/swarm.ts) and the `swarm`/`nodes` handlers (daemon/swarm-api.ts) stand on.
 */
import { Conflict } from "@twilight/core";
import type Docker from "dockerode";
import { engineError } from "./client.js";

export interface SwarmInfo {
  state: string;
  manager: boolean;
  nodeId?: string;
  managers?: number;
  nodes?: number;
}

export interface NodeInfo {
  id: string;
  labels: Record<string, string>;
  hostname: string;
  role: string;
  availability: string;
  state: string;
  addr: string;
  cpus: number;
  memoryBytes: number;
}

export async function swarmInfo(docker: Docker): Promise<SwarmInfo> {
  let info: {
    Swarm?: { LocalNodeState?: string; NodeID?: string; ControlAvailable?: boolean; Managers?: number; Nodes?: number };
  };
  try {
    info = (await docker.info()) as typeof info;
  } catch (e) {
    throw engineError("ask the Docker engine about its swarm", e);
  }
  const s = info.Swarm ?? {};
  return {
    state: s.LocalNodeState || "inactive",
    manager: Boolean(s.ControlAvailable),
    ...(s.NodeID ? { nodeId: s.NodeID } : {}),
    ...(s.Managers !== undefined ? { managers: s.Managers } : {}),
    ...(s.Nodes !== undefined ? { nodes: s.Nodes } : {}),
  };
}

/** Make this engine a swarm manager; an engine already in a swarm is left as it is (idempotent). */
export async function initSwarm(docker: Docker, advertiseAddr?: string): Promise<SwarmInfo> {
  const now = await swarmInfo(docker);
  if (now.state === "active") return now;
  if (now.state !== "inactive")
    throw new Conflict(`this engine's swarm state is ${now.state}`, {
      hint: "finish or undo the engine's pending join first (`docker info`, `docker swarm leave`)",
    });
  try {
    await docker.swarmInit({ ListenAddr: "0.0.0.0:2377", ...(advertiseAddr ? { AdvertiseAddr: advertiseAddr } : {}) });
  } catch (e) {
    throw engineError("initialise the swarm", e);
  }
  return swarmInfo(docker);
}

/** The join tokens and the address of this manager. */
export async function joinTokens(docker: Docker): Promise<{ worker: string; manager: string; addr: string }> {
  try {
    const s = (await docker.swarmInspect()) as { JoinTokens: { Worker: string; Manager: string } };
    const info = (await docker.info()) as { Swarm?: { RemoteManagers?: Array<{ Addr: string }>; NodeAddr?: string } };
    const addr = info.Swarm?.RemoteManagers?.[0]?.Addr ?? `${info.Swarm?.NodeAddr ?? "?"}:2377`;
    return { worker: s.JoinTokens.Worker, manager: s.JoinTokens.Manager, addr };
  } catch (e) {
    throw engineError("read the swarm's join tokens", e);
  }
}

export async function listNodes(docker: Docker): Promise<NodeInfo[]> {
  type Raw = {
    ID: string;
    Spec: { Labels?: Record<string, string>; Role?: string; Availability?: string };
    Description?: { Hostname?: string; Resources?: { NanoCPUs?: number; MemoryBytes?: number } };
    Status?: { State?: string; Addr?: string };
  };
  let raw: Raw[];
  try {
    raw = (await docker.listNodes()) as unknown as Raw[];
  } catch (e) {
    throw engineError("list swarm nodes", e);
  }
  return raw.map((n) => ({
    id: n.ID,
    labels: n.Spec.Labels ?? {},
    hostname: n.Description?.Hostname ?? "",
    role: n.Spec.Role ?? "",
    availability: n.Spec.Availability ?? "",
    state: n.Status?.State ?? "unknown",
    addr: n.Status?.Addr ?? "",
    cpus: (n.Description?.Resources?.NanoCPUs ?? 0) / 1e9,
    memoryBytes: n.Description?.Resources?.MemoryBytes ?? 0,
  }));
}
