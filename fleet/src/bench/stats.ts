/** Small statistics and /proc memory helpers for benchmarks. */
import { readFileSync } from "node:fs";
import { readProcUsage } from "../lib/proc.js";

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export function fmtMs(x: number): string {
  return `${x.toFixed(0)} ms`;
}

/** Memory of one process: RSS, and USS (its private pages: what the host gets back when it ends). */
export function memOf(pid: number): { rss: number; uss: number } {
  try {
    const t = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(t)?.[1] ?? 0) * 1024;
    return { rss: kb("Rss"), uss: kb("Private_Clean") + kb("Private_Dirty") };
  } catch {
    return { rss: 0, uss: 0 };
  }
}

export { memAvailable } from "../lib/proc.js";

/** CPU use over `ms`: one process's (% of one core, lib/proc's utime + stime) and the host's (% of all cores, /proc/stat). */
export async function cpuBusy(pid: number, ms: number): Promise<{ process: number; host: number }> {
  const proc = () => readProcUsage(pid)?.cpuTicks ?? 0;
  const host = () => {
    const cpu = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
    const idle = (cpu[3] ?? 0) + (cpu[4] ?? 0);
    return { total: cpu.reduce((a, b) => a + b, 0), idle };
  };
  const p0 = proc();
  const h0 = host();
  await new Promise((r) => setTimeout(r, ms));
  const ticks = proc() - p0;
  const h1 = host();
  const hz = 100; // USER_HZ on Linux
  const total = h1.total - h0.total;
  return {
    process: Math.round((ticks / hz / (ms / 1000)) * 1000) / 10,
    host: total > 0 ? Math.round((1 - (h1.idle - h0.idle) / total) * 1000) / 10 : 0,
  };
}
