/** Reading /proc: is a pid alive, and is it still the process we started (start time), not a reused pid. */
import { readdirSync, readFileSync } from "node:fs";

export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** Field 22: start time in clock ticks since boot. */
  startTime: string;
}

/** Parse /proc/<pid>/stat. The command name is in parentheses and may itself contain spaces or ')'. */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, text.indexOf(" ")));
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); field N is rest[N - 3].
  return {
    pid,
    state: rest[0] ?? "?",
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    session: Number(rest[3]),
    startTime: rest[19] ?? "",
  };
}

export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** True when `pid` runs and (if given) started at `startTime`; zombies and dead processes count as gone. */
export function isSameProcessAlive(pid: number, startTime?: string | null): boolean {
  const st = readProcStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return false;
  return startTime ? st.startTime === startTime : true;
}

/** Resident set size in bytes and cumulative CPU ticks (utime+stime) of a process. */
export function readProcUsage(pid: number): { rssBytes: number; cpuTicks: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const statm = readFileSync(`/proc/${pid}/statm`, "utf8").split(" ");
    return { rssBytes: Number(statm[1]) * 4096, cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

/** Live (not zombie) pids whose real, effective, saved or filesystem uid is `uid` (from /proc/<pid>/status). */
export function pidsOfUid(uid: number): number[] {
  const out: number[] = [];
  for (const ent of readdirSync("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    let status: string;
    try {
      status = readFileSync(`/proc/${ent}/status`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    if (/^State:\s+[ZX]/m.test(status)) continue; // dead, waiting to be reaped: runs nothing, holds nothing
    const line = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(status);
    if (line?.slice(1).some((u) => Number(u) === uid)) out.push(Number(ent));
  }
  return out;
}

/** The real uid of a process, or undefined when it is gone. */
export function procUid(pid: number): number | undefined {
  try {
    const line = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Every uid that runs a process now. */
export function liveUids(): Set<number> {
  const out = new Set<number>();
  for (const ent of readdirSync("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const line = /^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m.exec(readFileSync(`/proc/${ent}/status`, "utf8"));
      for (const u of line?.slice(1) ?? []) out.add(Number(u));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** SIGKILL every process of a profile's uid (strays that left its process group); bounded. Returns what was killed. */
export function killUid(uid: number): number[] {
  if (uid === 0) throw new Error("refusing to kill the processes of uid 0");
  const killed: number[] = [];
  for (let round = 0; round < 5; round++) {
    const pids = pidsOfUid(uid);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {
        /* gone */
      }
    }
  }
  return killed;
}

/** The host's MemAvailable, bytes. */
export function memAvailable(): number {
  return Number(/MemAvailable:\s+(\d+) kB/.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0) * 1024;
}
