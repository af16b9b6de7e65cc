import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildFileSd, renderFileSd, writeFileSd } from "./file-sd.js";

const rows = [
  { name: "zed", tier: "container", desired_state: "running" },
  { name: "alice", tier: "prefab", desired_state: "running" },
  { name: "off", tier: "prefab", desired_state: "stopped" },
  { name: "Bad Name", tier: "prefab", desired_state: "running" },
];

describe("file_sd targets", () => {
  it("one group per profile that should run, at the front door, labelled profile/tier/instance, sorted", () => {
    const groups = buildFileSd(rows, { fleetAddress: "127.0.0.1:8700" });
    assert.deepEqual(groups, [
      {
        targets: ["127.0.0.1:8700"],
        labels: { __metrics_path__: "/p/alice/metrics", instance: "alice", profile: "alice", tier: "prefab" },
      },
      {
        targets: ["127.0.0.1:8700"],
        labels: { __metrics_path__: "/p/zed/metrics", instance: "zed", profile: "zed", tier: "container" },
      },
    ]);
  });

  it("a profile keeps its labels and address when it moves tier (only `tier` changes)", () => {
    const before = buildFileSd([{ name: "alice", tier: "prefab", desired_state: "running" }], { fleetAddress: "h:1" });
    const after = buildFileSd([{ name: "alice", tier: "container", desired_state: "running" }], { fleetAddress: "h:1" });
    assert.deepEqual(before[0]?.targets, after[0]?.targets);
    assert.equal(before[0]?.labels.profile, after[0]?.labels.profile);
    assert.equal(before[0]?.labels.instance, after[0]?.labels.instance);
  });

  it("includes stopped profiles on request and refuses a malformed address", () => {
    assert.equal(buildFileSd(rows, { fleetAddress: "h:1", includeStopped: true }).length, 3);
    assert.throws(() => buildFileSd(rows, { fleetAddress: "http://h:1/x" }));
  });

  it("writes atomically and only when the content changed", () => {
    const dir = mkdtempSync(join(tmpdir(), "filesd-"));
    try {
      const path = join(dir, "profiles.json");
      const groups = buildFileSd(rows, { fleetAddress: "127.0.0.1:8700" });
      assert.equal(writeFileSd(path, groups), true);
      const text = readFileSync(path, "utf8");
      assert.equal(text, renderFileSd(groups));
      assert.deepEqual(JSON.parse(text), groups);
      assert.equal(writeFileSd(path, groups, text), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
