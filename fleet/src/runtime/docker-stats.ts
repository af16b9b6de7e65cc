/** CPU % and memory from one Docker stats sample (GET /containers/{id}/stats?stream=false), as `docker stats` computes them. Pure. */
import type { WorkloadStats } from "./types.js";

export interface RawStats {
  cpu_stats?: {
    cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
    system_cpu_usage?: number;
    online_cpus?: number;
  };
  precpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

export function computeStats(s: RawStats): WorkloadStats {
  const cpu = s.cpu_stats ?? {};
  const pre = s.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const sysDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const online = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  // Without a previous sample (one-shot reads) the deltas would be totals since boot: report 0 instead.
  const hasPrev = (pre.system_cpu_usage ?? 0) > 0;
  const cpuPercent = hasPrev && cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
  const mem = s.memory_stats ?? {};
  const st = mem.stats ?? {};
  // cgroup v1: total_inactive_file; v2: inactive_file (the page cache the kernel can drop), as the docker CLI does.
  const inactive = st.total_inactive_file ?? st.inactive_file ?? 0;
  const usage = mem.usage ?? 0;
  return { cpuPercent: Math.round(cpuPercent * 100) / 100, memoryBytes: Math.max(0, usage - (inactive < usage ? inactive : 0)) };
}
