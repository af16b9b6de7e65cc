import assert from "node:assert/strict";
import { test } from "node:test";
import type { ProfileRow } from "../registry/types.js";
import type { ManagedWorkload } from "../runtime/types.js";
import { orphanWorkloads } from "./doctor.js";

const row = (name: string, o: Partial<ProfileRow> = {}) =>
  ({ name, profile_path: `/ops/profiles/${name}`, generation: 1, tier: "prefab", status: "running", ...o }) as ProfileRow;
const w = (profile: string, o: Partial<ManagedWorkload> = {}): ManagedWorkload => ({
  profile,
  generation: 1,
  tier: "prefab",
  running: true,
  dir: `/ops/profiles/${profile}`,
  ...o,
});

test("orphans: no row, another directory, a stale generation or tier; never another fleet's", () => {
  const rows = [row("a"), row("b", { generation: 2 }), row("m", { status: "migrating", generation: 3 })];
  const list = [
    w("a"),
    w("ghost"),
    w("b", { generation: 1 }),
    w("a", { tier: "container", containerId: "c1" }),
    w("m", { generation: 2 }),
    w("other", { dir: "/elsewhere/profiles/other" }),
    w("nodir", { dir: undefined }),
    w("a", { dir: "/ops/profiles/a-old" }),
  ];
  const got = orphanWorkloads(list, rows, "/ops/profiles").map((x) => `${x.profile}/g${x.generation}/${x.tier}/${x.dir}`);
  assert.deepEqual(got, [
    "ghost/g1/prefab//ops/profiles/ghost",
    "b/g1/prefab//ops/profiles/b",
    "a/g1/container//ops/profiles/a",
    "a/g1/prefab//ops/profiles/a-old",
  ]);
});
