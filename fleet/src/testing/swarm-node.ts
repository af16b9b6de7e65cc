/**
 * A second Docker node on this one machine, for multi-node swarm tests: a `dockerd` of its own in a network namespace
 * of its own (a veth pair to the host), joined to the host engine's swarm as a worker. No Docker-in-Docker (this
 * machine refuses privileged containers): the node shares the kernel and the filesystem, not the network or the engine.
 * Everything is named `twl-node-<id>` and removed by `remove()`: the dockerd by its pid, the namespace, the veth, the
 * data directory, and the node from the swarm's list.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import Docker from "dockerode";
import { sleep } from "../docker/client.js";
import { NODE_LABEL, NODE_ROOT_LABEL } from "../runtime/swarm-spec.js";

export interface SwarmNode {
  name: string;
  /** The node's address on the veth (what it advertises to the swarm). */
  addr: string;
  /** A client of the node's own engine. */
  docker: Docker;
  /** The node's id in the swarm, once joined. */
  nodeId: string;
  /** Stop the node's engine (the swarm sees the node go down); `remove` still cleans up. */
  stopEngine(): Promise<void>;
  /** Cut the node off the network (its veth down): the swarm loses it and nothing on it answers; `heal` undoes it. */
  partition(): void;
  heal(): void;
  remove(): Promise<void>;
}

function run(argv: string[]): void {
  const r = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr || r.stdout}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids (not ours) whose command line contains `needle`: the processes a node's engine started under its root. */
function processesNaming(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    const pid = Number(d);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle)) out.push(pid);
    } catch {
      /* exited */
    }
  }
  return out;
}

/** Whether this machine can make such a node (root, iproute2, nsenter, dockerd). */
export function canMakeSwarmNode(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root";
  const path = (process.env.PATH ?? "").split(delimiter);
  for (const tool of ["ip", "nsenter", "dockerd"])
    if (!path.some((d) => existsSync(join(d, tool)))) return `${tool} is not installed`;
  return undefined;
}

/** Make a node and join it to the swarm the host engine (`manager`) leads. */
export async function addSwarmNode(manager: Docker): Promise<SwarmNode> {
  const k = 100 + Math.floor(Math.random() * 100);
  const name = `twl-node-${k}`;
  const hostSide = `twlh${k}`;
  const nodeSide = `twln${k}`;
  const addr = `10.99.${k}.2`;
  const root = `/var/lib/${name}`;
  const sock = `${root}/run/docker.sock`;
  const pidFile = `${root}/run/docker.pid`;
  let dockerdPid: number | undefined;
  const teardown = async () => {
    if (dockerdPid && alive(dockerdPid)) {
      process.kill(dockerdPid, "SIGTERM");
      for (let i = 0; i < 100 && alive(dockerdPid); i++) await sleep(100);
      if (alive(dockerdPid)) process.kill(dockerdPid, "SIGKILL");
    }
    // a SIGKILLed dockerd leaves its containerd shims (and a container they still hold): every process whose command
    // line names this node's own directories, by pid
    for (const pid of processesNaming(`${root}/`)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone meanwhile */
      }
    }
    spawnSync("ip", ["netns", "del", name]);
    spawnSync("ip", ["link", "del", hostSide]);
    // a killed dockerd leaves its mounts (the data root bound onto itself, network namespace files): deepest first
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((m) => m === root || m.startsWith(`${root}/`))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) spawnSync("umount", ["-l", m]);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    run(["ip", "netns", "add", name]);
    run(["ip", "link", "add", hostSide, "type", "veth", "peer", "name", nodeSide]);
    run(["ip", "link", "set", nodeSide, "netns", name]);
    run(["ip", "addr", "add", `10.99.${k}.1/24`, "dev", hostSide]);
    run(["ip", "link", "set", hostSide, "up"]);
    run(["ip", "netns", "exec", name, "ip", "addr", "add", `${addr}/24`, "dev", nodeSide]);
    run(["ip", "netns", "exec", name, "ip", "link", "set", nodeSide, "up"]);
    run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"]);
    run(["ip", "netns", "exec", name, "ip", "route", "add", "default", "via", `10.99.${k}.1`]);
    for (const d of ["data", "exec", "run"]) mkdirSync(`${root}/${d}`, { recursive: true });
    // nsenter, not `ip netns exec` (which remounts /sys and hides the cgroups dockerd needs)
    const log = openSync(`${root}/dockerd.log`, "a");
    const child = spawn(
      "nsenter",
      [
        `--net=/var/run/netns/${name}`,
        "dockerd",
        "--no-new-privileges",
        "--data-root",
        `${root}/data`,
        "--exec-root",
        `${root}/exec`,
        "--pidfile",
        pidFile,
        "-H",
        `unix://${sock}`,
        "--cgroup-parent",
        `/${name}`,
        "--bip",
        `172.31.${k}.1/24`,
      ],
      { detached: true, stdio: ["ignore", log, log] },
    );
    child.unref();
    dockerdPid = child.pid;
    const docker = new Docker({ socketPath: sock });
    for (let i = 0; ; i++) {
      if (
        await docker.ping().then(
          () => true,
          () => false,
        )
      )
        break;
      if (i > 120)
        throw new Error(`the node's dockerd did not come up: ${readFileSync(`${root}/dockerd.log`, "utf8").slice(-500)}`);
      await sleep(250);
    }
    const swarm = (await manager.swarmInspect()) as { JoinTokens: { Worker: string } };
    const info = (await manager.info()) as { Swarm: { NodeAddr: string } };
    await docker.swarmJoin({
      ListenAddr: "0.0.0.0:2377",
      AdvertiseAddr: addr,
      RemoteAddrs: [`${info.Swarm.NodeAddr}:2377`],
      JoinToken: swarm.JoinTokens.Worker,
    });
    const nodeId = ((await docker.info()) as { Swarm: { NodeID: string } }).Swarm.NodeID;
    return {
      name,
      addr,
      docker,
      nodeId,
      partition() {
        run(["ip", "link", "set", hostSide, "down"]);
      },
      heal() {
        run(["ip", "link", "set", hostSide, "up"]);
      },
      async stopEngine() {
        if (dockerdPid && alive(dockerdPid)) {
          process.kill(dockerdPid, "SIGKILL");
          for (let i = 0; i < 100 && alive(dockerdPid); i++) await sleep(50);
        }
      },
      async remove() {
        await docker.swarmLeave({ force: true }).catch(() => undefined);
        await teardown();
        await manager
          .getNode(nodeId)
          .remove({ force: true })
          .catch(() => undefined);
      },
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}

/**
 * Make a joined node ready for profiles: its fleet name and profiles root as node labels, and the given images loaded
 * into its engine as `docker save | docker load` (no registry; the ids stay the same, as services name images by id).
 */
export async function prepareForProfiles(manager: Docker, node: SwarmNode, root: string, images: string[]): Promise<void> {
  const n = manager.getNode(node.nodeId);
  const info = (await n.inspect()) as { Version: { Index: number }; Spec: { Labels?: Record<string, string> } };
  await n.update({
    _query: { version: info.Version.Index },
    _body: { ...info.Spec, Labels: { ...info.Spec.Labels, [NODE_LABEL]: node.name, [NODE_ROOT_LABEL]: root } },
  });
  for (const ref of images) {
    const tar = (await manager.getImage(ref).get()) as NodeJS.ReadableStream;
    const load = (await node.docker.loadImage(tar)) as NodeJS.ReadableStream;
    await new Promise((res, rej) => load.on("end", res).on("error", rej).resume());
  }
}
