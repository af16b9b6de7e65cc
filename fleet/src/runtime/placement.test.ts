import assert from "node:assert/strict";
import { test } from "node:test";
import { headroom, place, unfit } from "./placement.js";
import type { FleetNode } from "./swarm.js";

const GiB = 1024 ** 3;
const node = (over: Partial<FleetNode>): FleetNode => ({
  id: over.name ?? "x",
  name: "a",
  addr: "10.0.0.1",
  state: "ready",
  availability: "active",
  self: false,
  root: "/srv/a",
  memoryBytes: 8 * GiB,
  ...over,
});
const base = { load: new Map<string, number[]>(), need: GiB, maxPerNode: 0, ownRoot: "/srv/own" };

test("the node with the most memory left after its profiles' limits gets the profile", () => {
  const nodes = [node({ name: "a", memoryBytes: 8 * GiB }), node({ name: "b", memoryBytes: 8 * GiB })];
  const load = new Map([["a", [GiB, GiB]]]);
  assert.deepEqual(place({ ...base, nodes, load }), { node: "b", root: "/srv/a" });
  assert.equal(headroom(nodes[0] as FleetNode, load), 6 * GiB);
});

test("ties go to the fleet's own node, whose root is the fleet's when unlabelled", () => {
  const nodes = [node({ name: "b" }), node({ name: "self", self: true, root: undefined })];
  assert.deepEqual(place({ ...base, nodes }), { node: "self", root: "/srv/own" });
});

test("down, drained, unnamed, rootless and full nodes are never chosen, each with its reason", () => {
  const nodes = [
    node({ name: "down", state: "down" }),
    node({ name: "drained", availability: "drain" }),
    node({ name: "", id: "n1" }),
    node({ name: "rootless", root: undefined }),
    node({ name: "full" }),
  ];
  const r = place({ ...base, nodes, maxPerNode: 2, load: new Map([["full", [GiB, GiB]]]) });
  assert.ok("none" in r);
  assert.match(r.none.down as string, /down/);
  assert.match(r.none.drained as string, /drain/);
  assert.match(r.none.n1 as string, /label/);
  assert.match(r.none.rootless as string, /profiles-root/);
  assert.match(r.none.full as string, /cap is 2/);
  assert.equal(unfit(node({ name: "ok" }), { ...base }), undefined);
});
