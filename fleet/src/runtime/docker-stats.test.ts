import assert from "node:assert/strict";
import { test } from "node:test";
import { computeStats } from "./docker-stats.js";

test("cpu percent is the container's share of the host delta times online CPUs", () => {
  const s = computeStats({
    cpu_stats: { cpu_usage: { total_usage: 3_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 10_000_000_000 },
    memory_stats: { usage: 100 * 1024 * 1024, stats: { total_inactive_file: 10 * 1024 * 1024 } },
  });
  assert.equal(s.cpuPercent, 20);
  assert.equal(s.memoryBytes, 90 * 1024 * 1024);
});

test("no previous sample (first read) gives 0 %, and cgroup v2 inactive_file is subtracted", () => {
  const s = computeStats({
    cpu_stats: { cpu_usage: { total_usage: 5, percpu_usage: [1, 2, 3, 4] }, system_cpu_usage: 100 },
    precpu_stats: {},
    memory_stats: { usage: 1000, stats: { inactive_file: 200 } },
  });
  assert.equal(s.cpuPercent, 0);
  assert.equal(s.memoryBytes, 800);
  assert.deepEqual(computeStats({}), { cpuPercent: 0, memoryBytes: 0 });
});
