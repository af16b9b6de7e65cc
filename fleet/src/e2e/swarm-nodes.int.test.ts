/**
 * Issue 12, the first multi-node piece (heavy tier): a second Docker node on this machine (its own dockerd in its own
 * network namespace, testing/swarm-node.ts), joined to the host's swarm. `hermes-admin nodes` lists both with their
 * fleet names, and reports the second `down` (exit 5) once its engine is killed.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dockerClient } from "../docker/client.js";
import { NODE_LABEL } from "../runtime/swarm-spec.js";
import { eventually, type FleetHarness, fleetHarness } from "../testing/harness.js";
import { addSwarmNode, canMakeSwarmNode, type SwarmNode } from "../testing/swarm-node.js";

interface NodeRow {
  id: string;
  name: string;
  state: string;
  role: string;
  self: boolean;
  addr: string;
}

const cannot = canMakeSwarmNode();

describe("two swarm nodes on one machine", { skip: cannot ? `cannot make a node here: ${cannot}` : false }, () => {
  let h: FleetHarness;
  let node: SwarmNode | undefined;
  const docker = dockerClient();

  before(async () => {
    h = await fleetHarness({ FLEET_PORT_RANGE: "19701-19799" });
    await h.startDaemon();
    const init = h.cli(["swarm", "init", "--json"]);
    assert.equal(init.code, 0, init.stderr);
    node = await addSwarmNode(docker);
    const n = docker.getNode(node.nodeId);
    const info = (await n.inspect()) as { Version: { Index: number }; Spec: { Labels?: Record<string, string> } };
    await n.update({
      _query: { version: info.Version.Index },
      _body: { ...info.Spec, Labels: { ...info.Spec.Labels, [NODE_LABEL]: node.name } },
    });
  });
  after(async () => {
    try {
      await node?.remove();
    } finally {
      await h?.cleanup();
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
