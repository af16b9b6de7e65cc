import assert from "node:assert/strict";
import { test } from "node:test";
import { LABELS, MANAGED_BY } from "@twilight/core";
import { type ContainerSummary, isOurs, selectOrphans, selectProfileContainers } from "./docker-cleanup.js";

function c(name: string, labels: Record<string, string>, state = "running"): ContainerSummary {
  return { Id: `id-${name}`, Names: [`/${name}`], Labels: labels, State: state };
}
const ours = (profile: string, gen: number) => ({
  [LABELS.managedBy]: MANAGED_BY,
  [LABELS.role]: "profile",
  [LABELS.profile]: profile,
  [LABELS.generation]: String(gen),
  [LABELS.tier]: "container",
});

const listing: ContainerSummary[] = [
  c("hermes-alpha-g1", ours("alpha", 1)),
  c("hermes-alpha-g2", ours("alpha", 2), "exited"),
  c("hermes-beta-g1", ours("beta", 1)),
  // Unlabelled, yet named like ours: must never be selected.
  c("hermes-gamma-g1", {}),
  // Someone else's managed-by value.
  c("hermes-delta-g1", { ...ours("delta", 1), [LABELS.managedBy]: "someone-else" }),
  // Started by hand from our image: it inherits the image's managed-by label, but has no role or profile label.
  c("hermes-epsilon-g1", { [LABELS.managedBy]: MANAGED_BY, "io.twilight.image": "profile" }),
  // Ours but not a profile (the data service).
  c("twilight-mcp-tushare", { [LABELS.managedBy]: MANAGED_BY, [LABELS.role]: "data-service" }),
];

test("only containers with our managed-by label and role=profile are selected", () => {
  assert.deepEqual(
    selectProfileContainers(listing).map((x) => x.name),
    ["hermes-alpha-g1", "hermes-alpha-g2", "hermes-beta-g1"],
  );
  assert.equal(isOurs(listing[3] as ContainerSummary), false);
  assert.equal(isOurs(listing[4] as ContainerSummary), false);
});

test("profile scope selects that profile's generations only", () => {
  const alpha = selectProfileContainers(listing, { profile: "alpha" });
  assert.deepEqual(
    alpha.map((x) => [x.name, x.generation, x.running]),
    [
      ["hermes-alpha-g1", 1, true],
      ["hermes-alpha-g2", 2, false],
    ],
  );
  assert.deepEqual(selectProfileContainers(listing, { profile: "gamma" }), []);
});

test("orphans: by profile name or by workload name; unlabelled containers are never orphans", () => {
  assert.deepEqual(
    selectOrphans(listing, new Set(["alpha"])).map((x) => x.name),
    ["hermes-beta-g1"],
  );
  // Known by workload name: alpha's stale generation 1 is reported too.
  assert.deepEqual(
    selectOrphans(listing, new Set(["hermes-alpha-g2", "hermes-beta-g1"])).map((x) => x.name),
    ["hermes-alpha-g1"],
  );
  assert.deepEqual(
    selectOrphans(listing, new Set()).map((x) => x.name),
    ["hermes-alpha-g1", "hermes-alpha-g2", "hermes-beta-g1"],
  );
});
