/**
 * Benchmark: what sleeping gives back and what waking costs, for the two ways a profile could sleep.
 * - freeze: the process is stopped in place (SIGSTOP of its process group, as the cgroup freezer would; `docker pause`
 *   for a container, which is the cgroup freezer): every page stays resident, waking is a signal.
 * - stop (what `hermes-admin sleep` and the idle policy do): the workload ends, its memory goes back to the host, and
 *   the front door starts it again on the next request.
 * For N prefab profiles (and one container when Docker is up) it prints the memory each way leaves in use (RSS of the
 * workloads' processes, and the host's MemAvailable), and the wake latency of a request through the front door to a
 * sleeping profile (p50/p95) beside thawing a frozen one, beside a request to an awake profile.
 * Usage: node fleet/dist/bench/hibernate.js [profiles=8] [--json]
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { readProcStat } from "../lib/proc.js";
import { fleetHarness } from "../testing/harness.js";
import { ProfileClient } from "../verify/profile-client.js";
import { fmtMs, median, memAvailable, memOf } from "./stats.js";

const { values, positionals } = parseArgs({ options: { json: { type: "boolean", default: false } }, allowPositionals: true });
const N = Number(positionals[0] ?? 8);

interface Row {
  name: string;
  tier: string;
  status: string;
  pid: number | null;
  container_id: string | null;
  profile_path: string;
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] as number;
const MiB = 1024 * 1024;

/** RSS and USS of a process and all its descendants (the agent may have children). */
function treeMem(root: number): { rss: number; uss: number } {
  const sum = { rss: 0, uss: 0 };
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length) {
    const p = stack.pop() as number;
    if (seen.has(p)) continue;
    seen.add(p);
    const m = memOf(p);
    sum.rss += m.rss;
    sum.uss += m.uss;
    try {
      for (const t of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").trim().split(/\s+/).filter(Boolean))
        stack.push(Number(t));
    } catch {
      /* gone */
    }
  }
  return sum;
}
function total(pids: number[]): { rss: number; uss: number } {
  return pids.map(treeMem).reduce((a, b) => ({ rss: a.rss + b.rss, uss: a.uss + b.uss }), { rss: 0, uss: 0 });
}
const settle = () => new Promise((r) => setTimeout(r, 1500));
function containerPid(id: string): number {
  return Number(spawnSync("docker", ["inspect", "-f", "{{.State.Pid}}", id], { encoding: "utf8" }).stdout.trim()) || 0;
}
const dockerUp = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8" }).status === 0;

const h = await fleetHarness({ LOG_LEVEL: "warn", FLEET_IDLE_AFTER_MS: "0", FLEET_START_TIMEOUT_MS: "60000" });
const out: Record<string, unknown> = { bench: "hibernate", profiles: N };
try {
  await h.startDaemon();
  const names = Array.from({ length: N }, (_, i) => `bench-hib-${i}`);
  for (const n of names) if (h.cli(["spawn", n, "--tier", "prefab"]).code !== 0) throw new Error(`spawn ${n} failed`);
  if (dockerUp && h.cli(["spawn", "bench-hib-ctr", "--tier", "container"]).code !== 0) throw new Error("container spawn failed");
  const rows = () => h.cliJson<{ profiles: Row[] }>(["list", "--no-stats"]).profiles;
  const byName = new Map(rows().map((r) => [r.name, r]));
  const clients = names.map((n) => new ProfileClient(n, h.url, (byName.get(n) as Row).profile_path));
  for (const c of clients) await c.ping(); // warm: every profile has answered once
  await settle();

  // awake
  const pids = names.map((n) => (byName.get(n) as Row).pid as number);
  const awakeMem = total(pids);
  const awakeAvail = memAvailable();
  const awakeMs: number[] = [];
  for (const c of clients) awakeMs.push((await c.ping()).ms);

  // freeze in place (SIGSTOP of each process group), then thaw and time the first request
  for (const p of pids) process.kill(-p, "SIGSTOP");
  await settle();
  const frozenMem = total(pids);
  const frozenAvail = memAvailable();
  const thawMs: number[] = [];
  for (const [i, p] of pids.entries()) {
    const t0 = performance.now();
    process.kill(-p, "SIGCONT");
    const r = await (clients[i] as ProfileClient).ping();
    if (!r.ok) throw new Error(`thawed ${names[i]} answered ${r.status}`);
    thawMs.push(performance.now() - t0);
  }
  for (const p of pids) if (readProcStat(p)?.state === "T") throw new Error(`pid ${p} still stopped`);

  // stop (hermes-admin sleep), then wake through the front door
  for (const n of names) if (h.cli(["sleep", n]).code !== 0) throw new Error(`sleep ${n} failed`);
  await settle();
  const sleptMem = total(pids);
  const sleptAvail = memAvailable();
  const wakeMs: number[] = [];
  for (const c of clients) {
    const r = await c.ping(60_000);
    if (!r.ok) throw new Error(`wake of ${c.name} answered ${r.status}`);
    wakeMs.push(r.ms);
  }
  const prefab = {
    rss_awake_mib: +(awakeMem.rss / MiB).toFixed(1),
    rss_per_profile_mib: +(awakeMem.rss / N / MiB).toFixed(1),
    uss_per_profile_mib: +(awakeMem.uss / N / MiB).toFixed(1),
    uss_awake_mib: +(awakeMem.uss / MiB).toFixed(1),
    uss_frozen_mib: +(frozenMem.uss / MiB).toFixed(1),
    uss_sleeping_mib: +(sleptMem.uss / MiB).toFixed(1),
    host_available_gain_frozen_mib: +((frozenAvail - awakeAvail) / MiB).toFixed(0),
    host_available_gain_sleeping_mib: +((sleptAvail - awakeAvail) / MiB).toFixed(0),
    request_awake_p50_ms: +median(awakeMs).toFixed(1),
    thaw_p50_ms: +median(thawMs).toFixed(1),
    thaw_p95_ms: +pct(thawMs, 95).toFixed(1),
    wake_p50_ms: +median(wakeMs).toFixed(1),
    wake_p95_ms: +pct(wakeMs, 95).toFixed(1),
  };
  out.prefab = prefab;

  if (dockerUp) {
    const ctr = rows().find((r) => r.name === "bench-hib-ctr") as Row;
    const cc = new ProfileClient(ctr.name, h.url, ctr.profile_path);
    await cc.ping();
    const cid = ctr.container_id as string;
    const cpid = containerPid(cid);
    await settle();
    const rssAwake = treeMem(cpid).uss;
    spawnSync("docker", ["pause", cid]);
    await settle();
    const rssPaused = treeMem(cpid).uss;
    let t0 = performance.now();
    spawnSync("docker", ["unpause", cid]);
    if (!(await cc.ping()).ok) throw new Error("unpaused container did not answer");
    const unpauseMs = performance.now() - t0;
    if (h.cli(["sleep", ctr.name]).code !== 0) throw new Error("container sleep failed");
    t0 = performance.now();
    const r = await cc.ping(60_000);
    if (!r.ok) throw new Error(`container wake answered ${r.status}`);
    out.container = {
      uss_awake_mib: +(rssAwake / MiB).toFixed(1),
      uss_paused_mib: +(rssPaused / MiB).toFixed(1),
      uss_sleeping_mib: 0,
      unpause_to_answer_ms: +unpauseMs.toFixed(1),
      wake_to_answer_ms: +(performance.now() - t0).toFixed(1),
    };
  }

  if (values.json) console.log(JSON.stringify(out));
  else {
    const p = prefab;
    console.log(`hibernation, ${N} prefab profiles${dockerUp ? " + 1 container" : ""} (2 cores):`);
    console.log(
      `  memory of the profiles' processes, awake: RSS ${p.rss_per_profile_mib} MiB each, private (USS) ${p.uss_per_profile_mib} MiB each, ${p.uss_awake_mib} MiB in all`,
    );
    console.log(
      `    frozen (SIGSTOP)  ${p.uss_frozen_mib} MiB private still held, host MemAvailable ${p.host_available_gain_frozen_mib >= 0 ? "+" : ""}${p.host_available_gain_frozen_mib} MiB`,
    );
    console.log(
      `    sleeping (stop)   ${p.uss_sleeping_mib} MiB held, host MemAvailable +${p.host_available_gain_sleeping_mib} MiB`,
    );
    console.log(`  first request: awake p50 ${fmtMs(p.request_awake_p50_ms)}`);
    console.log(`    thaw a frozen one   p50 ${fmtMs(p.thaw_p50_ms)} p95 ${fmtMs(p.thaw_p95_ms)}`);
    console.log(
      `    wake a sleeping one p50 ${fmtMs(p.wake_p50_ms)} p95 ${fmtMs(p.wake_p95_ms)} (front door holds the request; ${(p.wake_p50_ms / p.thaw_p50_ms).toFixed(0)}x a thaw)`,
    );
    const c = out.container as Record<string, number> | undefined;
    if (c)
      console.log(
        `  container (private memory): awake ${c.uss_awake_mib} MiB, paused ${c.uss_paused_mib} MiB, sleeping 0; ` +
          `unpause -> answer ${fmtMs(c.unpause_to_answer_ms as number)}, wake -> answer ${fmtMs(c.wake_to_answer_ms as number)}`,
      );
    console.log(
      "  choice: sleep = stop (a frozen profile keeps every page; the cost is the wake time above, paid by the first request)",
    );
    console.log(JSON.stringify(out));
  }
} finally {
  await h.cleanup();
}
