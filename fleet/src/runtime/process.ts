/**
 * The `process` runtime driver (prefab tier): each profile is a process of its own uid/gid, in its own session and process
 * group (detached), cwd = its directory, environment = its .env plus fixed variables. Console output goes to an
 * O_APPEND log file the child holds, so profiles outlive the daemon; a restarted daemon re-adopts them by pid + start time.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readlinkSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DomainError, DriverError, MANAGED_BY, parseEnv } from "@twilight/core";
import type { Logger } from "pino";
import { isSameProcessAlive, procUid, readProcStat, readProcUsage } from "../lib/proc.js";
import { readNoFollow } from "../lib/safe-fs.js";
import { adoptConsoleLog, closeQuietly, openConsoleLog, rotateIfNeeded } from "./logfiles.js";
import { followLog } from "./logtail.js";
import type { PrivateTmp, TmpNamespace } from "./private-tmp.js";
import { agentArgv, ENV_GENERATION, ENV_MANAGED, ENV_POOLED, POOLED_GENERATION, processEnv } from "./process-env.js";
import { type Sandbox, type SandboxSpec, sandboxArgv, sandboxSpec } from "./sandbox.js";
import type {
  ExecIO,
  ExitListener,
  LogLine,
  LogOptions,
  ManagedWorkload,
  PooledRuntime,
  PoolSlot,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
  WorkloadState,
  WorkloadStats,
} from "./types.js";

export interface ProcessDriverOptions {
  appDir: string;
  log: Logger;
  nodePath?: string;
  logs: { maxBytes: number; keep: number };
  /** Command to run instead of the agent (tests: a command that always fails). argv[0] is resolved with the profile's PATH. */
  command?: (spec: WorkloadSpec) => string[];
  pollMs?: number;
  /** Kernel limits for the profile's processes (cgroups); none: only no-new-privileges and RLIMIT_NPROC. */
  sandbox?: Sandbox;
  /** A private tmpfs /tmp per process (mount namespace); absent or unavailable: the host /tmp, TMPDIR their own. */
  privateTmp?: PrivateTmp;
}

interface Tracked {
  generation: number;
  pid: number;
  startTime: string;
  child?: ChildProcess;
  timer?: NodeJS.Timeout;
  logDir: string;
}

export class ProcessDriver implements RuntimeDriver {
  readonly kind = "process" as const;
  readonly capabilities = {
    logRotation: { rotateLogs: () => this.rotateLogs() },
    detach: { detachAll: () => this.detachAll() },
    pool: {
      startPooled: (slot: PoolSlot, onExit: () => void) => this.startPooled(slot, onExit),
      claim: (p: PooledRuntime, spec: WorkloadSpec) => this.claim(p, spec),
      discard: (p: PooledRuntime) => this.discard(p),
      listUnassigned: () => this.listUnassigned(),
    },
  };
  private readonly tracked = new Map<string, Tracked>();
  /** Pooled runtimes started by this driver and not yet claimed. */
  private readonly pooled = new Map<number, { child: ChildProcess; tmpBytes: number; pids: number }>();
  /** Claimed pooled runtimes: their exit is their profile's. */
  private readonly claimedBy = new Map<number, { profile: string; t: Tracked }>();
  private readonly listeners: ExitListener[] = [];
  private readonly nodePath: string;
  private readonly pollMs: number;

  constructor(private readonly o: ProcessDriverOptions) {
    this.nodePath = o.nodePath ?? process.execPath;
    this.pollMs = o.pollMs ?? 500;
  }

  listenerUid(spec: WorkloadSpec): number {
    return spec.uid;
  }

  onExit(listener: ExitListener): void {
    this.listeners.push(listener);
  }

  async env(spec: WorkloadSpec, extra?: Record<string, string>): Promise<Record<string, string>> {
    let text: string;
    try {
      // root reads a file in the tenant's directory: no link followed, owner checked (root, or the tenant before layout 2)
      text = await readNoFollow(join(spec.dir, ".env"), { owners: [0, spec.uid], maxBytes: 64 * 1024 });
    } catch (e) {
      if (e instanceof DomainError) throw e;
      throw new DriverError("process", `cannot read ${spec.dir}/.env: ${(e as Error).message}`, {
        hint: "the profile directory is damaged; re-create the profile",
      });
    }
    return processEnv({
      dir: spec.dir,
      appDir: this.o.appDir,
      nodePath: this.nodePath,
      generation: spec.generation,
      dotenv: parseEnv(text),
      extra,
    });
  }

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    const cur = this.tracked.get(spec.profile);
    if (cur && isSameProcessAlive(cur.pid, cur.startTime)) return { pid: cur.pid, pidStartTime: cur.startTime };
    const env = await this.env(spec, {
      API_SERVER_HOST: "127.0.0.1",
      API_SERVER_PORT: String(spec.port),
      ...(spec.standby ? { TWILIGHT_STANDBY: "1" } : {}),
    });
    const sb = sandboxSpec(spec);
    env.TMPDIR = sb.tmpDir;
    const { child, pid, startTime } = await this.launch(spec.profile, sb, {
      env,
      dir: spec.dir,
      uid: spec.uid,
      gid: spec.gid,
      logDir: spec.logDir,
      argv: this.o.command?.(spec) ?? agentArgv(this.nodePath, this.o.appDir),
    });
    const t: Tracked = { generation: spec.generation, pid, startTime, child, logDir: spec.logDir };
    this.tracked.set(spec.profile, t);
    child.once("exit", (code, signal) => this.exited(spec.profile, t, code, signal));
    this.o.log.info({ profile: spec.profile, profile_pid: pid, generation: spec.generation }, "process started");
    return { pid, pidStartTime: startTime };
  }

  /** Spawn `argv` sandboxed as `uid` in its cgroup `group` (a profile's, or a pooled runtime's), console to `logDir`. */
  private async launch(
    group: string,
    sb: SandboxSpec,
    w: { env: Record<string, string>; dir: string; uid: number; gid: number; logDir: string; argv: string[] },
  ): Promise<{ child: ChildProcess; pid: number; startTime: string }> {
    this.o.sandbox?.prepare(group, sb);
    const ns = await this.tmpNamespace(group, sb.tmpBytes, w.dir);
    const argv = sandboxArgv(sb, w.argv, { uid: w.uid, gid: w.gid, enter: ns?.enter });
    const fd = openConsoleLog(w.logDir);
    let child: ChildProcess;
    try {
      // spawned as root: the argv enters the namespace, then setpriv drops to the profile's uid before anything of it runs
      child = spawn(argv[0] as string, argv.slice(1), { cwd: w.dir, env: w.env, detached: true, stdio: ["ignore", fd, fd] });
      await new Promise<void>((resolve, reject) => {
        child.once("spawn", resolve);
        child.once("error", reject);
      });
    } catch (e) {
      if (ns) void ns.release();
      throw new DriverError("process", `cannot start ${group}: ${(e as Error).message}`, { retryable: true });
    } finally {
      closeQuietly(fd);
    }
    child.unref();
    const pid = child.pid as number;
    if (ns) void releaseWhenJoined(pid, ns); // the process holds the namespace now; its file binding can go
    try {
      this.o.sandbox?.place(group, pid);
    } catch (e) {
      child.kill("SIGKILL");
      throw new DriverError("process", `cannot put ${group} in its cgroup: ${(e as Error).message}`);
    }
    return { child, pid, startTime: readProcStat(pid)?.startTime ?? "" };
  }

  /** The warm pool's runtime: the agent with no profile and no secret, as `slot.uid`, sandboxed like a basic plan. */
  async startPooled(slot: PoolSlot, onExit: () => void): Promise<PooledRuntime> {
    const key = randomBytes(24).toString("base64url");
    const env = processEnv({
      dir: slot.dir,
      appDir: this.o.appDir,
      nodePath: this.nodePath,
      generation: POOLED_GENERATION,
      dotenv: {},
      extra: {
        API_SERVER_HOST: "127.0.0.1",
        API_SERVER_PORT: String(slot.port),
        TWILIGHT_POOL_KEY: key,
        [ENV_POOLED]: "1",
        TMPDIR: "/tmp",
      },
    });
    const sb = sandboxSpec({ plan: null, dir: slot.dir });
    const group = poolGroup(slot.uid);
    const { child, pid, startTime } = await this.launch(group, sb, {
      env,
      dir: slot.dir,
      uid: slot.uid,
      gid: slot.gid,
      logDir: slot.logDir,
      argv: agentArgv(this.nodePath, this.o.appDir),
    });
    const p: PooledRuntime = { slot, pid, startTime, key };
    this.pooled.set(pid, { child, tmpBytes: sb.tmpBytes, pids: sb.pids });
    child.once("exit", (code, signal) => {
      const claimed = this.claimedBy.get(pid);
      this.claimedBy.delete(pid);
      if (claimed) return this.exited(claimed.profile, claimed.t, code, signal);
      this.pooled.delete(pid);
      this.o.sandbox?.release(group);
      onExit();
    });
    this.o.log.debug({ profile_pid: pid, uid: slot.uid, port: slot.port }, "pooled runtime started");
    return p;
  }

  async claim(
    p: PooledRuntime,
    spec: WorkloadSpec,
  ): Promise<{ env: Record<string, string>; cwd: string; handle: WorkloadHandle }> {
    const held = this.pooled.get(p.pid);
    if (!held || !isSameProcessAlive(p.pid, p.startTime)) throw new DriverError("process", `pooled runtime ${p.pid} is gone`);
    if (spec.uid !== p.slot.uid || spec.gid !== p.slot.gid || spec.port !== p.slot.port || spec.generation !== POOLED_GENERATION)
      throw new DriverError("process", `pooled runtime ${p.pid} does not fit ${spec.profile} (uid, port or generation differ)`);
    const sb = sandboxSpec(spec);
    // RLIMIT_NPROC was set by prlimit at the pooled start; another process's cannot be changed without CAP_SYS_RESOURCE
    // (which the daemon may lack): a plan with another process limit starts cold
    if (sb.pids !== held.pids)
      throw new DriverError(
        "process",
        `pooled runtime ${p.pid} has a process limit of ${held.pids}, ${spec.profile} needs ${sb.pids}`,
      );
    const env = await this.env(spec, { API_SERVER_HOST: "127.0.0.1", API_SERVER_PORT: String(spec.port) });
    env.TMPDIR = sb.tmpDir;
    // the profile's limits, before anything of the profile reaches the process
    this.o.sandbox?.prepare(spec.profile, sb);
    this.o.sandbox?.place(spec.profile, p.pid);
    this.o.sandbox?.release(poolGroup(p.slot.uid));
    if (this.o.privateTmp?.available && sb.tmpBytes !== held.tmpBytes) await this.o.privateTmp.resize(p.pid, sb.tmpBytes);
    adoptConsoleLog(p.slot.logDir, spec.logDir, this.o.logs.keep);
    const t: Tracked = {
      generation: spec.generation,
      pid: p.pid,
      startTime: p.startTime,
      child: held.child,
      logDir: spec.logDir,
    };
    this.pooled.delete(p.pid);
    this.claimedBy.set(p.pid, { profile: spec.profile, t });
    this.tracked.set(spec.profile, t);
    this.o.log.info({ profile: spec.profile, profile_pid: p.pid, generation: spec.generation }, "pooled runtime claimed");
    return { env, cwd: spec.dir, handle: { pid: p.pid, pidStartTime: p.startTime } };
  }

  async discard(p: PooledRuntime): Promise<void> {
    if (!isSameProcessAlive(p.pid, p.startTime)) return;
    signalGroup(p.pid, "SIGKILL"); // holds nothing of anyone: no grace needed
    await waitGone({ pid: p.pid, startTime: p.startTime }, 5_000);
  }

  async listUnassigned(): Promise<Array<{ pid: number; uid: number }>> {
    const out: Array<{ pid: number; uid: number }> = [];
    for (const w of await this.scan()) if (w.pooled && !w.profile) out.push({ pid: w.pid, uid: w.uid });
    return out;
  }

  /** A private /tmp for a new process, or null where this host cannot make one (the reason is in `health`). */
  private async tmpNamespace(profile: string, bytes: number, wd: string): Promise<TmpNamespace | null> {
    const pt = this.o.privateTmp;
    if (!pt?.available) return null;
    try {
      return await pt.create(bytes, wd);
    } catch (e) {
      throw new DriverError("process", `cannot make a private /tmp for ${profile}: ${(e as Error).message}`, {
        retryable: true,
        hint: "check `hermes-admin health` (sandbox line) and that /run/twilight/mountns is writable by root",
      });
    }
  }

  private exited(profile: string, t: Tracked, code: number | null, signal: string | null): void {
    if (t.timer) clearInterval(t.timer);
    if (this.tracked.get(profile) === t) this.tracked.delete(profile);
    this.o.log.info({ profile, profile_pid: t.pid, code, signal }, "process exited");
    for (const l of this.listeners) l({ profile, generation: t.generation, code, signal });
  }

  async adopt(spec: WorkloadSpec, known: WorkloadHandle): Promise<boolean> {
    if (!known.pid || !isSameProcessAlive(known.pid, known.pidStartTime)) return false;
    const env = await readEnviron(known.pid);
    if (env[ENV_MANAGED] !== MANAGED_BY) return false;
    // a runtime from the warm pool started with no profile in its environment: the registry's pid + start time and
    // the profile's own uid say it is this profile's
    const mine = env[ENV_POOLED] ? procUid(known.pid) === spec.uid : env.HERMES_PROFILE === spec.profile;
    if (!mine) return false;
    const t: Tracked = {
      generation: Number(env[ENV_GENERATION] ?? spec.generation),
      pid: known.pid,
      startTime: known.pidStartTime ?? readProcStat(known.pid)?.startTime ?? "",
      logDir: spec.logDir,
    };
    t.timer = setInterval(() => {
      if (!isSameProcessAlive(t.pid, t.startTime)) this.exited(spec.profile, t, null, null);
    }, this.pollMs);
    t.timer.unref();
    this.tracked.set(spec.profile, t);
    this.o.log.info({ profile: spec.profile, profile_pid: t.pid }, "process adopted");
    return true;
  }

  async stop(spec: WorkloadSpec, opts: { timeoutMs?: number } = {}): Promise<void> {
    const t = this.tracked.get(spec.profile);
    if (!t || !isSameProcessAlive(t.pid, t.startTime)) return;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    signalGroup(t.pid, "SIGTERM");
    if (await waitGone(t, timeoutMs)) return;
    this.o.log.warn({ profile: spec.profile, profile_pid: t.pid, timeoutMs }, "did not stop on SIGTERM; sending SIGKILL");
    signalGroup(t.pid, "SIGKILL");
    await waitGone(t, 5_000);
  }

  async remove(): Promise<void> {
    // Nothing to remove for a process; the directory belongs to the profile, not the driver.
  }

  async inspect(spec: WorkloadSpec, known?: WorkloadHandle): Promise<WorkloadState> {
    const t = this.tracked.get(spec.profile);
    const pid = t?.pid ?? known?.pid;
    const st = t?.startTime ?? known?.pidStartTime;
    if (pid && isSameProcessAlive(pid, st)) return { running: true, pid, pidStartTime: st ?? undefined };
    return { running: false, reason: pid ? `process ${pid} is gone` : "no process" };
  }

  async *logs(spec: WorkloadSpec, opts: LogOptions): AsyncIterable<LogLine> {
    for await (const line of followLog(spec.logDir, opts)) yield { stream: "stdout", line };
  }

  async exec(spec: WorkloadSpec, argv: string[], io: ExecIO): Promise<number> {
    if (argv.length === 0) throw new DriverError("process", "exec needs a command");
    const env = await this.env(spec);
    const sb = sandboxSpec(spec);
    env.TMPDIR = sb.tmpDir;
    // a command joins the running profile's namespace (same private /tmp as its agent), else gets a fresh one
    const running = this.tracked.get(spec.profile);
    const ns =
      running && isSameProcessAlive(running.pid, running.startTime) && this.o.privateTmp?.available
        ? { enter: this.o.privateTmp.join(running.pid, spec.dir), release: async () => {} }
        : await this.tmpNamespace(spec.profile, sb.tmpBytes, spec.dir);
    const wrapped = sandboxArgv(sb, argv, { uid: spec.uid, gid: spec.gid, enter: ns?.enter });
    const child = spawn(wrapped[0] as string, wrapped.slice(1), {
      cwd: spec.dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      signal: io.signal,
    });
    if (ns) child.once("spawn", () => void releaseWhenJoined(child.pid as number, ns));
    if (child.pid) {
      try {
        this.o.sandbox?.place(spec.profile, child.pid); // what a command runs counts against the profile's limits
      } catch {
        /* the profile's cgroup is gone (stopped profile): the rlimit still applies */
      }
    }
    child.stdout?.on("data", (b: Buffer) => io.onStdout(b));
    child.stderr?.on("data", (b: Buffer) => io.onStderr(b));
    return await new Promise<number>((resolve) => {
      child.once("error", (e: NodeJS.ErrnoException) => {
        io.onStderr(Buffer.from(`exec: ${argv[0]}: ${e.code === "ENOENT" ? "command not found" : e.message}\n`));
        resolve(e.code === "ENOENT" ? 127 : 126);
      });
      child.once("close", (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
    });
  }

  async stats(spec: WorkloadSpec, known?: WorkloadHandle): Promise<WorkloadStats | null> {
    const pid = this.tracked.get(spec.profile)?.pid ?? known?.pid;
    if (!pid) return null;
    const a = readProcUsage(pid);
    if (!a) return null;
    await sleep(100);
    const b = readProcUsage(pid) ?? a;
    // Clock ticks are 1/100 s on Linux: ticks over a 0.1 s window = percent of one core.
    return { cpuPercent: Math.max(0, b.cpuTicks - a.cpuTicks) * 10, memoryBytes: b.rssBytes };
  }

  async listManaged(): Promise<ManagedWorkload[]> {
    const out: ManagedWorkload[] = [];
    for (const w of await this.scan()) {
      if (!w.profile) continue;
      out.push({ profile: w.profile, generation: w.generation, tier: "prefab", pid: w.pid, running: true, dir: w.dir });
    }
    return out;
  }

  /**
   * Our processes in /proc (group leaders: a profile's main process). A runtime from the warm pool carries no profile in
   * its environment: once assigned, its directory is its working directory (the runtime never changes it); before,
   * that is the pool's and it has no profile.
   */
  private async scan(): Promise<Scanned[]> {
    const out: Scanned[] = [];
    for (const ent of await readdir("/proc")) {
      if (!/^\d+$/.test(ent)) continue;
      const pid = Number(ent);
      const env = await readEnviron(pid);
      if (env[ENV_MANAGED] !== MANAGED_BY) continue;
      const pooled = env[ENV_POOLED] === "1";
      if (!pooled && !env.HERMES_PROFILE) continue;
      const st = readProcStat(pid);
      if (!st || st.pgrp !== pid || st.state === "Z") continue;
      const dir = pooled ? (readlinkQuiet(`/proc/${pid}/cwd`) ?? undefined) : env.HERMES_HOME;
      const profile = pooled ? (dir && dir !== env.HERMES_HOME ? basename(dir) : undefined) : env.HERMES_PROFILE;
      out.push({
        pid,
        uid: procUid(pid) ?? -1,
        pooled,
        ...(profile ? { profile } : {}),
        generation: Number(env[ENV_GENERATION] ?? 0),
        ...(dir ? { dir } : {}),
      });
    }
    return out;
  }

  /** Rotate every tracked profile's console log that grew past the limit. Called periodically by the supervisor. */
  rotateLogs(): void {
    for (const t of this.tracked.values()) rotateIfNeeded(t.logDir, this.o.logs.maxBytes, this.o.logs.keep);
  }

  /** Stop watching (daemon shutdown): the processes keep running. */
  detachAll(): void {
    for (const t of this.tracked.values()) if (t.timer) clearInterval(t.timer);
    this.tracked.clear();
  }
}

/** One of our processes found in /proc (see scan). */
interface Scanned {
  pid: number;
  uid: number;
  pooled: boolean;
  profile?: string;
  generation: number;
  dir?: string;
}

/** A pooled runtime's cgroup name (profile names cannot start with a dot). */
function poolGroup(uid: number): string {
  return `.pool-${uid}`;
}

/** Unbind a namespace file once `pid` has entered the namespace (its /proc ns link differs from ours), or gave up. */
async function releaseWhenJoined(pid: number, ns: TmpNamespace): Promise<void> {
  const own = readlinkQuiet("/proc/self/ns/mnt");
  for (let i = 0; i < 400; i++) {
    const theirs = readlinkQuiet(`/proc/${pid}/ns/mnt`);
    if (theirs === null || theirs !== own) break; // joined, or already gone
    await sleep(5);
  }
  await ns.release();
}

function readlinkQuiet(p: string): string | null {
  try {
    return readlinkSync(p);
  } catch {
    return null;
  }
}

async function readEnviron(pid: number): Promise<Record<string, string>> {
  try {
    const raw = await readFile(`/proc/${pid}/environ`, "utf8");
    const env: Record<string, string> = {};
    for (const kv of raw.split("\0")) {
      const i = kv.indexOf("=");
      if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
    }
    return env;
  } catch {
    return {};
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

async function waitGone(t: { pid: number; startTime: string }, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isSameProcessAlive(t.pid, t.startTime)) return true;
    await sleep(25);
  }
  return !isSameProcessAlive(t.pid, t.startTime);
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGTERM: 15,
};
function signalNumber(s: string | null): number {
  return s ? (SIGNALS[s] ?? 0) : 0;
}
