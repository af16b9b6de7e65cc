/**
 * The prefab tier's kernel sandbox, one spec for the process driver and the systemd unit (so they cannot drift):
 * memory and pids limits per plan through cgroups (v1 or v2, whichever is mounted and writable), no-new-privileges,
 * a per-uid process limit (RLIMIT_NPROC: each profile has its own uid, so it caps the profile's processes even where no
 * cgroup can be written), and the profile's own TMPDIR. What is enforced on this host is reported by `describe()` and
 * shown in `hermes-admin health`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { limitsForPlan } from "./limits.js";
import type { WorkloadSpec } from "./types.js";

export interface SandboxSpec {
  memoryBytes: number;
  pids: number;
  noNewPrivileges: true;
  /** The profile's scratch directory (TMPDIR), inside its own home. */
  tmpDir: string;
  /** Size of its private /tmp (a tmpfs charged to its memory cgroup): an eighth of its memory. */
  tmpBytes: number;
}

/** Pure: the sandbox of one prefab workload, from its plan. */
export function sandboxSpec(spec: Pick<WorkloadSpec, "plan" | "dir">): SandboxSpec {
  const l = limitsForPlan(spec.plan);
  return {
    memoryBytes: l.memoryBytes,
    pids: l.pids,
    noNewPrivileges: true,
    tmpDir: join(spec.dir, "home", "tmp"),
    tmpBytes: Math.floor(l.memoryBytes / 8),
  };
}

/**
 * Pure: the argv that starts `command` inside the sandbox, spawned as root: `enter` (the private /tmp's namespace, if
 * any) runs first, then setpriv drops to the profile's uid/gid with no supplementary groups and no-new-privileges, and
 * prlimit caps its processes (util-linux throughout, each execs the next: no shell, one pid).
 */
export function sandboxArgv(
  s: SandboxSpec,
  command: readonly string[],
  who: { uid: number; gid: number; enter?: readonly string[] },
): string[] {
  return [
    ...(who.enter ?? []),
    "/usr/bin/setpriv",
    `--reuid=${who.uid}`,
    `--regid=${who.gid}`,
    "--clear-groups",
    "--no-new-privs",
    "--",
    "/usr/bin/prlimit",
    `--nproc=${s.pids}:${s.pids}`,
    "--",
    ...command,
  ];
}

export type CgroupMode = "v2" | "v1" | "none";

/** Which cgroup hierarchy this host has, and whether it can be written (as root, outside a read-only mount). */
export function detectCgroups(root = "/sys/fs/cgroup"): { mode: CgroupMode; reason: string } {
  try {
    if (existsSync(join(root, "cgroup.controllers"))) {
      const ctl = readFileSync(join(root, "cgroup.controllers"), "utf8");
      if (!/\bmemory\b/.test(ctl) || !/\bpids\b/.test(ctl)) return { mode: "none", reason: "cgroup v2 without memory/pids" };
      return { mode: "v2", reason: "cgroup v2" };
    }
    if (existsSync(join(root, "memory", "memory.limit_in_bytes")) && existsSync(join(root, "pids")))
      return { mode: "v1", reason: "cgroup v1 (memory, pids)" };
  } catch (e) {
    return { mode: "none", reason: (e as Error).message };
  }
  return { mode: "none", reason: "no writable memory/pids cgroup controllers" };
}

export interface Sandbox {
  readonly mode: CgroupMode;
  /** Create (or update) the profile's cgroup with its limits. */
  prepare(profile: string, s: SandboxSpec): void;
  /** Put a started process in it (its children follow). */
  place(profile: string, pid: number): void;
  /** Remove the profile's cgroup once empty. */
  release(profile: string): void;
  describe(): string;
}

const PARENT = "twilight";

/** cgroups through the filesystem; `mode: "none"` does nothing (the rlimit in sandboxArgv still applies). */
export class CgroupSandbox implements Sandbox {
  readonly mode: CgroupMode;
  private readonly reason: string;

  constructor(private readonly root = "/sys/fs/cgroup") {
    const d = detectCgroups(root);
    this.mode = d.mode;
    this.reason = d.reason;
    if (this.mode === "none") return;
    try {
      this.ensureParent();
    } catch (e) {
      this.mode = "none";
      this.reason = `cgroups not writable here: ${(e as Error).message}`;
    }
  }

  private dirs(profile: string): Array<{ dir: string; files: (s: SandboxSpec) => Record<string, string> }> {
    if (this.mode === "v2")
      return [
        {
          dir: join(this.root, PARENT, profile),
          files: (s) => ({ "memory.max": String(s.memoryBytes), "memory.swap.max": "0", "pids.max": String(s.pids) }),
        },
      ];
    return [
      { dir: join(this.root, "memory", PARENT, profile), files: (s) => ({ "memory.limit_in_bytes": String(s.memoryBytes) }) },
      { dir: join(this.root, "pids", PARENT, profile), files: (s) => ({ "pids.max": String(s.pids) }) },
    ];
  }

  private ensureParent(): void {
    if (this.mode === "v2") {
      const parent = join(this.root, PARENT);
      mkdirSync(parent, { recursive: true });
      writeFileSync(join(this.root, "cgroup.subtree_control"), "+memory +pids");
      writeFileSync(join(parent, "cgroup.subtree_control"), "+memory +pids");
    } else if (this.mode === "v1") {
      for (const c of ["memory", "pids"]) mkdirSync(join(this.root, c, PARENT), { recursive: true });
    }
  }

  prepare(profile: string, s: SandboxSpec): void {
    if (this.mode === "none") return;
    for (const d of this.dirs(profile)) {
      mkdirSync(d.dir, { recursive: true });
      for (const [f, v] of Object.entries(d.files(s))) if (existsSync(join(d.dir, f))) writeFileSync(join(d.dir, f), v);
    }
  }

  place(profile: string, pid: number): void {
    if (this.mode === "none") return;
    for (const d of this.dirs(profile)) writeFileSync(join(d.dir, "cgroup.procs"), String(pid));
  }

  /** The pids in the profile's cgroup (empty when none). */
  members(profile: string): number[] {
    if (this.mode === "none") return [];
    const d = this.dirs(profile)[0];
    try {
      return readFileSync(join(d?.dir ?? "", "cgroup.procs"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  }

  release(profile: string): void {
    if (this.mode === "none") return;
    for (const d of this.dirs(profile)) {
      try {
        for (const child of readdirSync(d.dir, { withFileTypes: true }))
          if (child.isDirectory()) rmdirSync(join(d.dir, child.name));
        rmdirSync(d.dir);
      } catch {
        /* busy or gone: next release */
      }
    }
  }

  describe(): string {
    return this.mode === "none"
      ? `prefab limits: processes by RLIMIT_NPROC only; memory NOT limited (${this.reason})`
      : `prefab limits: memory and pids by ${this.reason}, processes also by RLIMIT_NPROC, no-new-privileges`;
  }
}
