/** Small statistics and /proc memory helpers for benchmarks. */
import { readFileSync } from "node:fs";
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
