/**
 * Issue 12, multi-node (heavy tier): a second Docker node on this machine (its own dockerd in its own network namespace,
 * testing/swarm-node.ts), joined to the host's swarm, with a profiles root of its own (io.twilight.profiles-root).
 * `hermes-admin nodes` lists both; profiles are spawned on each and answer through the front door; one is moved between
 * the nodes mid-conversation under 20 requests/s with 0 failed requests and the conversation going on; then the second
 * node's engine is killed: it is reported down (exit 5), its profile `unreachable`, and nothing is started twice.
 */
import assert from "node:assert/strict";
import { lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { dockerClient } from "../docker/client.js";
import { buildImages } from "../images/builder.js";
import { imageRefs, projectVersion } from "../images/refs.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";
import { addSwarmNode, canMakeSwarmNode, prepareForProfiles, type SwarmNode } from "../testing/swarm-node.js";
import { ProfileClient } from "../verify/profile-client.js";

interface NodeRow {
  id: string;
  name: string;
  state: string;
  role: string;
  self: boolean;
  addr: string;
  profiles: string[];
}
interface P {
  name: string;
  node: string | null;
  generation: number;
  status: string;
  status_url: string;
  profile_path: string;
  last_error: string | null;
}

const cannot = canMakeSwarmNode();
const MCP_NAME = "twl-nodes-mcp";
const MCP_PORT = 19690;
/** What profiles on the other node are given as the data service's URL (rendered into their config.yaml). */
const REMOTE_MCP = "http://10.255.0.1:19690/mcp";

describe("two swarm nodes on one machine", { skip: cannot ? `cannot make a node here: ${cannot}` : false }, () => {
  let h: FleetHarness;
  let node: SwarmNode | undefined;
  let selfName = "";
  const docker = dockerClient();
  // the second node's profiles root: on this machine the node shares the filesystem, so the fleet reaches it at the
  // same path, as it would through a mount of a real node's root
  const nodeRoot = mkdtempSync("/var/tmp/twl-node-root-");
  const row = (n: string) => h.cliJson<{ profiles: P[] }>(["list", "--no-stats"]).profiles.find((p) => p.name === n) as P;
  const servicesOf = async (n: string) =>
    docker.listServices({ filters: { label: [`io.twilight.profile=${n}`, "io.twilight.managed-by=twilight-fleet"] } });

  before(async () => {
    await buildImages({ only: ["profile", "mcp"] });
    h = await fleetHarness({
      FLEET_PORT_RANGE: "19701-19799",
      FLEET_HEALTH_INTERVAL_MS: "500",
      FLEET_START_TIMEOUT_MS: "90000",
      // this suite's own data service (name and port), never the host's
      FLEET_MCP_CONTAINER: MCP_NAME,
      FLEET_MCP_HOST_PORT: String(MCP_PORT),
      FLEET_MCP_URL_REMOTE: REMOTE_MCP,
      FLEET_NODE_MAX_PROFILES: "2",
    });
    await h.startDaemon();
    const init = h.cli(["swarm", "init", "--json"]);
    assert.equal(init.code, 0, init.stderr);
    selfName = (JSON.parse(init.stdout) as { node: string }).node;
    node = await addSwarmNode(docker);
    // no registry here: the node gets the profile image as `docker save | docker load` (the id stays the same)
    await prepareForProfiles(docker, node, nodeRoot, [imageRefs(await projectVersion()).profile]);
  });
  after(async () => {
    try {
      await node?.remove();
    } finally {
      h?.cli(["mcp", "down"]);
      await h?.cleanup();
      for (const n of ["mn-a", "mn-b", "mn-c"])
        for (const s of await servicesOf(n))
          await docker
            .getService(s.ID)
            .remove()
            .catch(() => undefined);
      rmSync(nodeRoot, { recursive: true, force: true });
    }
  });

  test("`nodes` lists this node and the joined one, by their fleet names, both ready", async () => {
    const other = node as SwarmNode;
    const r = await eventually(
      () => {
        const out = h.cli(["nodes", "--json"]);
        const nodes = (JSON.parse(out.stdout) as { nodes: NodeRow[] }).nodes;
        return out.code === 0 && nodes.length === 2 && nodes.every((x) => x.state === "ready") ? nodes : undefined;
      },
      30_000,
      "two ready nodes",
    );
    const self = r.find((x) => x.self);
    const joined = r.find((x) => x.id === other.nodeId);
    assert.ok(self?.name, "this node carries its fleet name");
    assert.equal(joined?.name, other.name);
    assert.equal(joined?.role, "worker");
    assert.equal(joined?.addr, other.addr);
    const table = h.cli(["nodes"]);
    assert.match(table.stdout, new RegExp(`^${other.name}\\s`, "m"));
  });

  test("a profile on each node: both answer through the front door, each listed on its node", async () => {
    const other = node as SwarmNode;
    for (const [n, at] of [
      ["mn-a", selfName],
      ["mn-b", other.name],
    ] as const) {
      const r = await h.cliAsync(["spawn", n, "--tier", "swarm", "--node", at]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(row(n).node, at);
      const c = new ProfileClient(n, h.url, row(n).profile_path);
      const t = await c.chat("what can you do?");
      assert.equal(t.status, 200, t.error);
    }
    assert.ok(row("mn-b").profile_path.startsWith(`${nodeRoot}/`), "the directory is under the node's own root");
    // the data service's URL: by name on this node, FLEET_MCP_URL_REMOTE on the other
    const config = (n: string) => readFileSync(join(row(n).profile_path, "config.yaml"), "utf8");
    assert.ok(config("mn-b").includes(REMOTE_MCP));
    assert.ok(!config("mn-a").includes(REMOTE_MCP));
    const nodes = h.cliJson<{ nodes: NodeRow[] }>(["nodes"]).nodes;
    assert.deepEqual(nodes.find((x) => x.self)?.profiles, ["mn-a"]);
    assert.deepEqual(nodes.find((x) => x.id === other.nodeId)?.profiles, ["mn-b"]);
  });

  test("the data service as a swarm service: one writer, reachable from the bridge, the overlay and the other node", async () => {
    const other = node as SwarmNode;
    const up = h.cli(["mcp", "up", "--swarm", "--wait-seeded", "0", "--json"]);
    assert.equal(up.code, 0, up.stderr);
    const st = JSON.parse(up.stdout) as { mode: string; running: boolean; health: { httpStatus?: number } };
    assert.equal(st.mode, "swarm");
    assert.equal(st.running, true);
    assert.equal(st.health.httpStatus, 200, "answers on this node's loopback (host-mode port)");
    const svc = (await docker.getService(MCP_NAME).inspect()) as { Spec: { Mode: { Replicated: { Replicas: number } } } };
    assert.equal(svc.Spec.Mode.Replicated.Replicas, 1, "one writer");
    assert.equal((await docker.listContainers({ filters: { name: [`^/${MCP_NAME}$`] } })).length, 0, "no container beside it");
    const image = imageRefs(await projectVersion()).profile;
    const probe = `fetch(process.argv[1]).then(r=>console.log(r.status),e=>console.log('ERR '+e.message))`;
    const runOn = async (d: typeof docker, url: string, network?: string) => {
      const c = await d.createContainer({
        Image: image,
        Entrypoint: ["node", "-e", probe, url],
        Labels: { "io.twilight.managed-by": "twilight-fleet", "io.twilight.role": "test-probe" },
        HostConfig: { AutoRemove: false, ...(network ? { NetworkMode: network } : {}) },
      });
      try {
        await c.start();
        await c.wait();
        return String(await c.logs({ stdout: true, stderr: true }))
          .replace(/[^\x20-\x7e]/g, "")
          .trim();
      } finally {
        await c.remove({ force: true });
      }
    };
    // a container profile's view: by name on the local bridge (the fleet put the task there)
    assert.match(await runOn(docker, `http://${MCP_NAME}:9100/health`, "twilight"), /200$/);
    // a swarm profile's view on this node: by name on the overlay (from inside mn-a's task)
    const task = (
      await docker.listContainers({ filters: { label: ["io.twilight.profile=mn-a", "io.twilight.tier=swarm"] } })
    )[0] as { Id: string };
    const ex = await docker.getContainer(task.Id).exec({
      Cmd: ["node", "-e", probe, `http://${MCP_NAME}:9100/health`],
      AttachStdout: true,
      AttachStderr: true,
    });
    const out = await new Promise<string>((res, rej) =>
      ex.start({ hijack: true, stdin: false }, (err, stream) => {
        if (err || !stream) return rej(err);
        let text = "";
        stream.on("data", (c: Buffer) => {
          text += c.toString();
        });
        stream.on("end", () => res(text.replace(/[^\x20-\x7e]/g, "").trim()));
      }),
    );
    assert.match(out, /200$/);
    // the other node's view: this node's address and the published port (the overlay's data plane does not cross
    // the namespaces on this one machine)
    const managerAddr = ((await docker.info()) as { Swarm: { NodeAddr: string } }).Swarm.NodeAddr;
    assert.match(await runOn(other.docker, `http://${managerAddr}:${MCP_PORT}/health`), /200$/);
    // the swarm restarts it; the fleet puts the new task back on the bridge
    const first = (await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${MCP_NAME}`] } }))[0] as {
      Id: string;
    };
    await docker.getContainer(first.Id).kill();
    await eventually(
      async () => /200$/.test(await runOn(docker, `http://${MCP_NAME}:9100/health`, "twilight")) || undefined,
      60_000,
      "the restarted data service on the bridge again",
    );
    // and back to a container: the service goes first (never two processes on the warehouse)
    const back = h.cli(["mcp", "up", "--wait-seeded", "0", "--json"]);
    assert.equal(back.code, 0, back.stderr);
    assert.equal((JSON.parse(back.stdout) as { mode: string }).mode, "container");
    await assert.rejects(docker.getService(MCP_NAME).inspect(), /no such service|404/i);
  });

  test("move mid-conversation at 20 requests/s: 0 failed, the conversation goes on there, the old copy is kept", async () => {
    const other = node as SwarmNode;
    const before = row("mn-a");
    const c = new ProfileClient("mn-a", h.url, before.profile_path);
    const t1 = await c.chat("what can you do?");
    assert.equal(t1.status, 200, t1.error);
    let ok = 0;
    const failed: string[] = [];
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const r = await fetch(before.status_url).catch((e: Error) => ({ status: 0, statusText: e.message }));
        if (r.status === 200) ok++;
        else failed.push(`${r.status} ${r.statusText}`);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    await new Promise((res) => setTimeout(res, 1000));
    const r = await h.cliAsync(["move", "mn-a", "--to-node", other.name, "--json"]);
    await new Promise((res) => setTimeout(res, 1000));
    stop = true;
    await load;
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as { outcome: string; pause_ms: number; kept: string; path: string };
    const { steps: _s, ...brief } = JSON.parse(r.stdout) as Record<string, unknown>;
    console.log(`move: ${JSON.stringify(brief)}\n  steps: ${JSON.stringify(_s)}`);
    assert.equal(m.outcome, "moved");
    assert.deepEqual(failed, [], `${failed.length} failed of ${ok + failed.length}`);
    assert.ok(ok > 20, `only ${ok} requests`);
    const after = row("mn-a");
    assert.equal(after.node, other.name);
    assert.equal(after.profile_path, join(nodeRoot, "mn-a"));
    assert.equal(after.generation, before.generation + 1);
    assert.ok(readFileSync(join(after.profile_path, "config.yaml"), "utf8").includes(REMOTE_MCP), "re-rendered for its node");
    // the conversation goes on, on the other node, with its state copied
    const c2 = new ProfileClient("mn-a", h.url, after.profile_path);
    const t2 = await c2.chat("what can you do?", t1.sessionId);
    assert.equal(t2.status, 200, t2.error);
    const s = await c2.session(t1.sessionId);
    assert.equal(s?.messages.filter((x) => x.role === "user").length, 2, "both turns are in the one conversation");
    // one service (the new generation), the old directory kept root-only
    const svcs = await servicesOf("mn-a");
    assert.equal(svcs.length, 1);
    assert.equal((svcs[0] as { Spec: { Name: string } }).Spec.Name, `hermes-mn-a-g${after.generation}`);
    const kept = lstatSync(m.kept);
    assert.equal(kept.uid, 0);
    assert.equal(kept.mode & 0o777, 0o700);
    assert.throws(() => lstatSync(before.profile_path), "nothing is left at the old path");
    // the other node holds two now, the cap: placement says so and goes elsewhere
    const full = (JSON.parse(h.cli(["nodes", "--json"]).stdout) as { nodes: Array<NodeRow & { placeable: string | null }> })
      .nodes;
    assert.match(full.find((x) => x.id === other.nodeId)?.placeable ?? "", /holds 2 profiles \(the cap is 2\)/);
    const refused = h.cli(["spawn", "mn-c", "--tier", "swarm", "--node", other.name]);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /cap is 2/);
    const placed = await h.cliAsync(["spawn", "mn-c", "--tier", "swarm"]);
    assert.equal(placed.code, 0, placed.stderr);
    assert.equal(row("mn-c").node, selfName, "placed on the node with room");
    assert.equal(h.cli(["rm", "mn-c", "--force", "--purge"]).code, 0);
  });

  test("a node cut off: reported down (exit 5), its profiles unreachable and not restarted anywhere; back when healed", async () => {
    const other = node as SwarmNode;
    other.partition();
    try {
      const down = await eventually(
        () => {
          const out = h.cli(["nodes", "--json"]);
          const r = (JSON.parse(out.stdout) as { nodes: NodeRow[] }).nodes.find((x) => x.id === other.nodeId);
          return r && r.state !== "ready" ? { out, r } : undefined;
        },
        60_000,
        "the node reported down",
      );
      assert.equal(down.out.code, 5);
      assert.deepEqual(down.r.profiles, ["mn-a", "mn-b"]);
      // its profiles are reported unreachable and never started elsewhere (their directories are on that node)
      const lost = await eventually(
        () => {
          const r = row("mn-a");
          return r.last_error?.startsWith("unreachable") ? r : undefined;
        },
        90_000,
        "mn-a reported unreachable",
      );
      assert.match(lost.last_error as string, new RegExp(`node ${other.name}`));
      const health = h.cli(["health", "mn-a", "--json"]);
      assert.notEqual(health.code, 0);
      assert.match(health.stdout, /unreachable/);
      const svcs = await servicesOf("mn-a");
      assert.equal(svcs.length, 1, "one service: no second copy was made");
      assert.equal(row("mn-b").node, other.name);
    } finally {
      other.heal();
    }
    // healed: the node is back, the same task answers again (never a second one), the report is cleared
    await eventually(() => (row("mn-a").last_error === null ? true : undefined), 90_000, "mn-a answering again");
    assert.equal((await fetch(row("mn-a").status_url)).status, 200);
    assert.equal((await servicesOf("mn-a")).length, 1);
    assert.equal(row("mn-a").generation, 2, "not restarted: the same generation");
  });

  test("a lost node's profile is recovered elsewhere on the operator's word; when the node returns, one copy", async () => {
    const other = node as SwarmNode;
    const before = row("mn-b");
    other.partition();
    try {
      await eventually(
        () =>
          (JSON.parse(h.cli(["nodes", "--json"]).stdout) as { nodes: NodeRow[] }).nodes.find((x) => x.id === other.nodeId)
            ?.state !== "ready",
        60_000,
        "the node reported down",
      );
      const refused = h.cli(["move", "mn-b", "--to-node", selfName]);
      assert.equal(refused.code, 4, refused.stderr);
      assert.match(refused.stderr, /--from-lost-node/);
      const r = await h.cliAsync(["move", "mn-b", "--to-node", selfName, "--from-lost-node", "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { outcome: string }).outcome, "recovered");
      const now = row("mn-b");
      assert.equal(now.node, selfName);
      assert.equal(now.status, "running");
      assert.equal((await fetch(now.status_url)).status, 200, "answers from this node");
      assert.ok(!now.profile_path.startsWith(nodeRoot), "its directory is under this node's root now");
    } finally {
      other.heal();
    }
    // the node returns: its old task is stopped (its service is gone), so one copy runs, here
    await eventually(
      async () =>
        (await other.docker.listContainers({ filters: { label: ["io.twilight.profile=mn-b"] } })).length === 0 || undefined,
      90_000,
      "the returning node's old mn-b container gone",
    );
    const svcs = await servicesOf("mn-b");
    assert.equal(svcs.length, 1);
    assert.equal((svcs[0] as { Spec: { Name: string } }).Spec.Name, `hermes-mn-b-g${before.generation + 1}`);
    assert.equal((await fetch(row("mn-b").status_url)).status, 200);
  });

  test("a node whose engine dies is reported down, and `nodes` exits 5", async () => {
    const other = node as SwarmNode;
    await other.stopEngine();
    const down = await eventually(
      () => {
        const out = h.cli(["nodes", "--json"]);
        const row = (JSON.parse(out.stdout) as { nodes: NodeRow[] }).nodes.find((x) => x.id === other.nodeId);
        return row && row.state !== "ready" ? { out, row } : undefined;
      },
      60_000,
      "the node reported down",
    );
    assert.equal(down.row.state, "down");
    assert.equal(down.out.code, 5);
  });
});
