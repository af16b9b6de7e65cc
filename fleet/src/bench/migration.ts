/**
 * Benchmark: live migration prefab <-> container under 20 requests/s. Prints the pause (hold -> release), the longest
 * held request and total migration time (medians of N round trips), beside the spawn-to-healthy time of the same
 * container image, as ratios. Usage: node fleet/dist/bench/migration.js [rounds=3]
 */
import { buildImages } from "../images/index.js";
import { fleetHarness } from "../testing/harness.js";
import { ProfileClient, steadyLoad } from "../verify/profile-client.js";
import { median } from "./stats.js";

const rounds = Number(process.argv[2] ?? 3);
await buildImages({ only: ["profile"] });
const h = await fleetHarness({ LOG_LEVEL: "warn", FLEET_PORT_RANGE: "19000-19400" });
try {
  await h.startDaemon();
  const spawnMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const r = await h.cliAsync(["spawn", `bench-c-${i}`, "--tier", "container"]);
    if (r.code !== 0) throw new Error(r.stderr);
    spawnMs.push(performance.now() - t0);
    await h.cliAsync(["rm", `bench-c-${i}`, "--force"]);
  }
  const s = await h.cliAsync(["spawn", "bench-mig", "--tier", "prefab"]);
  if (s.code !== 0) throw new Error(s.stderr);
  const row = h.cliJson<{ profiles: Array<{ profile_path: string }> }>(["list", "--no-stats"]).profiles[0]!;
  const client = new ProfileClient("bench-mig", h.url, row.profile_path);
  const res: Record<string, { pause: number[]; held: number[]; total: number[]; failed: number; sent: number }> = {};
  for (let i = 0; i < rounds; i++) {
    for (const to of ["container", "prefab"]) {
      const load = steadyLoad(client, 20);
      const r = await h.cliAsync(["migrate", "bench-mig", "--to", to, "--json"]);
      const l = await load.stop();
      if (r.code !== 0) throw new Error(r.stderr);
      const m = JSON.parse(r.stdout) as { pause_ms: number; held_ms: number; total_ms: number };
      res[to] ??= { pause: [], held: [], total: [], failed: 0, sent: 0 };
      const e = res[to];
      e.pause.push(m.pause_ms);
      e.held.push(m.held_ms);
      e.total.push(m.total_ms);
      e.failed += l.failed;
      e.sent += l.sent;
    }
  }
  const start = median(spawnMs);
  console.log(`live migration, median of ${rounds} each way, 20 requests/s during each (2 cores):`);
  for (const [to, e] of Object.entries(res)) {
    console.log(
      `  -> ${to.padEnd(9)} pause ${median(e.pause)} ms, longest held request ${median(e.held)} ms, total ${median(e.total)} ms; ${e.failed}/${e.sent} requests failed`,
    );
  }
  console.log(`  container spawn-to-healthy (same image): ${start.toFixed(0)} ms`);
  const c = res.container!;
  console.log(
    `  ratio pause / container start: ${(median(c.pause) / start).toFixed(2)}; held / start: ${(median(c.held) / start).toFixed(2)}; total / start: ${(median(c.total) / start).toFixed(2)}`,
  );
  console.log(JSON.stringify({ bench: "migration", rounds, container_start_ms: start, results: res }));
} finally {
  await h.cleanup();
}
