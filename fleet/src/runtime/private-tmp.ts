/**
 * A private, size-capped /tmp for each prefab process (what systemd's PrivateTmp= gives the unit): the process starts in
 * its own mount namespace where /tmp is a fresh tmpfs (nosuid, nodev, mode 1777, size per plan; its pages count against
 * the profile's memory cgroup). Nothing of it is a path in the tenant's directory, so there is no link to follow.
 *
 * How, without a shell and without a resident helper process: the namespace is created bound to a file
 * (`unshare --mount=<file>`), the tmpfs is mounted inside it (`nsenter --mount=<file> mount ...`), the profile is
 * started through `nsenter --mount=<file> setpriv ...` (nsenter execs: the pid is the profile's), and the file is
 * unmounted once the process holds the namespace. `exec` joins the running process's namespace (`nsenter -t <pid> -m`),
 * so a command sees the same /tmp as the agent.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const NSENTER = "/usr/bin/nsenter";

export interface TmpNamespace {
  /** argv prefix that starts a command inside the namespace, in the working directory given at creation (as root: put
   * privilege dropping after it). Entering a mount namespace resets the working directory to /, so it is set again. */
  readonly enter: string[];
  /** Unbind the namespace file (the processes inside keep the namespace alive). Idempotent. */
  release(): Promise<void>;
}

export interface PrivateTmp {
  readonly available: boolean;
  readonly reason: string;
  /** A new namespace with an empty tmpfs of `sizeBytes` on /tmp; commands entering it start in `wd`. */
  create(sizeBytes: number, wd: string): Promise<TmpNamespace>;
  /** argv prefix that joins the mount namespace of a running process, starting in `wd`. */
  join(pid: number, wd: string): string[];
  /** Resize the private /tmp of a running process (a pooled runtime given a plan of another size). */
  resize(pid: number, sizeBytes: number): Promise<void>;
}

/** Pure: the tmpfs mount of a private /tmp. */
export function tmpfsMountArgv(sizeBytes: number): string[] {
  return ["/bin/mount", "-t", "tmpfs", "-o", `size=${sizeBytes},mode=1777,nosuid,nodev`, "twilight-tmp", "/tmp"];
}

/** Pure: resize a private /tmp in place (a pooled runtime claimed by a plan of another size); run inside its namespace. */
export function tmpfsRemountArgv(sizeBytes: number): string[] {
  return ["/bin/mount", "-o", `remount,size=${sizeBytes}`, "/tmp"];
}

/** Pure: the argv prefix that runs a command in the namespace bound at `file`, in directory `wd`. */
export function enterArgv(file: string, wd: string): string[] {
  return [NSENTER, `--mount=${file}`, `--wd=${wd}`, "--"];
}

/** Mount namespaces bound under `dir` (a private bind mount of itself: namespace files cannot live on a shared mount). */
export class MountNamespaces implements PrivateTmp {
  available = false;
  reason = "not probed";

  private constructor(private readonly dir: string) {}

  /**
   * Probe once at daemon start: a namespace and a tmpfs must actually work here (root, CAP_SYS_ADMIN, util-linux).
   * `mustSee` are the paths a profile's processes read (its directory, the agent's code, node, the MCP socket): a tmpfs
   * on /tmp would hide any of them that lives under /tmp, so then there is no private /tmp and the reason says which.
   */
  static async open(dir = "/run/twilight/mountns", mustSee: string[] = []): Promise<MountNamespaces> {
    const m = new MountNamespaces(dir);
    const hidden = hiddenByPrivateTmp(mustSee);
    if (hidden) {
      m.reason = `no private /tmp here (${hidden} is under /tmp, a tmpfs there would hide it): profiles share the host /tmp, TMPDIR is their own`;
      return m;
    }
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      if (!isMountPoint(dir)) {
        await run("/bin/mount", ["--bind", dir, dir]);
        await run("/bin/mount", ["--make-private", dir]);
      }
      await sweepStale(dir);
      const probe = await m.create(1024 * 1024, "/");
      await probe.release();
      m.available = true;
      m.reason = "private /tmp per profile (mount namespace + tmpfs)";
    } catch (e) {
      m.available = false;
      m.reason = `no private /tmp here (${firstLine(e)}): profiles share the host /tmp, TMPDIR is their own`;
    }
    return m;
  }

  async create(sizeBytes: number, wd: string): Promise<TmpNamespace> {
    const file = join(this.dir, `ns-${process.pid}-${randomBytes(6).toString("hex")}`);
    writeFileSync(file, "", { mode: 0o600, flag: "wx" });
    let bound = false;
    const release = async () => {
      if (bound) {
        bound = false;
        await run("/bin/umount", [file]).catch(() => {});
      }
      rmSync(file, { force: true });
    };
    try {
      await run("/usr/bin/unshare", [`--mount=${file}`, "--propagation", "private", "/bin/true"]);
      bound = true;
      await run(NSENTER, [`--mount=${file}`, "--", ...tmpfsMountArgv(sizeBytes)]);
    } catch (e) {
      await release();
      throw e;
    }
    return { enter: enterArgv(file, wd), release };
  }

  join(pid: number, wd: string): string[] {
    return [NSENTER, "-t", String(pid), "-m", `--wd=${wd}`, "--"];
  }

  async resize(pid: number, sizeBytes: number): Promise<void> {
    const [cmd, ...args] = [...this.join(pid, "/"), ...tmpfsRemountArgv(sizeBytes)];
    await run(cmd as string, args);
  }
}

/** Pure: the first of `paths` that a tmpfs mounted on /tmp would hide, or null. */
export function hiddenByPrivateTmp(paths: string[]): string | null {
  return paths.find((p) => p === "/tmp" || p.startsWith("/tmp/")) ?? null;
}

function isMountPoint(dir: string): boolean {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .some((l) => l.split(" ")[4] === dir);
  } catch {
    return false;
  }
}

function firstLine(e: unknown): string {
  const err = e as { stderr?: string; message?: string };
  return (err.stderr || err.message || String(e)).split("\n")[0] ?? "";
}

/** Leftover namespace files of daemons that died between create and release: unbind them (start-up reconcile). */
export async function sweepStale(dir = "/run/twilight/mountns"): Promise<number> {
  let n = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^ns-(\d+)-/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    await run("/bin/umount", [join(dir, name)]).catch(() => {});
    rmSync(join(dir, name), { force: true });
    n++;
  }
  return n;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** For tests: write nothing, enter nothing. */
export const NO_PRIVATE_TMP: PrivateTmp = {
  available: false,
  reason: "private /tmp disabled",
  create: async () => ({ enter: [], release: async () => {} }),
  join: () => [],
  resize: async () => {},
};
