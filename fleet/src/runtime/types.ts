/**
 * The runtime-driver seam: one interface, one file per implementation (process.ts, docker.ts, later swarm.ts),
 * chosen per profile from its registry row in runtime/index.ts. Nothing else in the fleet asks "which tier is this?".
 */
import type { Tier } from "@twilight/core";

/** Everything a driver needs to run one profile generation. Built from the registry row by runtime/index.ts. */
export interface WorkloadSpec {
  profile: string;
  tier: Tier;
  generation: number;
  /** Absolute path of the profile directory (HERMES_HOME) on the host. */
  dir: string;
  uid: number;
  gid: number;
  /** Port the profile's API server listens on; on the host it is bound to 127.0.0.1 only. */
  port: number;
  /** Billing plan: the container tier sizes its limits from it. */
  plan?: string | null;
  /** Container image (container tier). */
  image?: string;
  /** Shared read-only skills directory on the host. */
  skillsDir: string;
  /** Per-profile log directory on the host (process tier writes stdout/stderr there). */
  logDir: string;
  /**
   * Start in standby (live migration): the runtime answers /health with status "standby" and does not open the profile's
   * state until `POST /admin/activate`. A later start of the same spec without standby must not come up in standby.
   */
  standby?: boolean;
  /**
   * Swarm: the node (its io.twilight.node name) holding the directory, where the task must run; unset: the fleet's own
   * host. `dir` is the directory's path on that node (the fleet reaches it at the same path).
   */
  node?: string;
}

/** What a driver reports about a workload. */
export interface WorkloadState {
  running: boolean;
  pid?: number;
  /** /proc start time of pid (process tier), to tell a reused pid apart. */
  pidStartTime?: string;
  containerId?: string;
  exitCode?: number | null;
  startedAt?: string;
  /** Human-readable reason when not running (exit code, signal, OOM, missing). */
  reason?: string;
}

export interface WorkloadHandle {
  pid?: number;
  pidStartTime?: string;
  containerId?: string;
  /** Swarm tier: the service's id. */
  serviceId?: string;
}

export interface ExecIO {
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
  signal?: AbortSignal;
}

export interface LogOptions {
  follow: boolean;
  /** Last N lines first (default 100). */
  tail?: number;
  signal?: AbortSignal;
}

export interface LogLine {
  stream: "stdout" | "stderr";
  line: string;
}

export interface WorkloadStats {
  cpuPercent: number;
  memoryBytes: number;
}

/** A workload found on the host carrying our labels (container) or recorded pid (process); used for re-adoption. */
export interface ManagedWorkload {
  profile: string;
  generation: number;
  tier: Tier;
  pid?: number;
  containerId?: string;
  running: boolean;
  /** The profile directory it runs on (HERMES_HOME / the /profile mount): tells this fleet's workloads from another's. */
  dir?: string;
}

export type ExitListener = (e: { profile: string; generation: number; code: number | null; signal: string | null }) => void;

/** Where a pooled runtime (warm pool) runs before it has a profile: its reserved uid and port, its own directories. */
export interface PoolSlot {
  uid: number;
  gid: number;
  port: number;
  /** Working directory before assignment (holds nothing of any tenant). */
  dir: string;
  /** Its console log's directory before assignment (the log moves to the profile's on claim). */
  logDir: string;
}

/** A runtime started with no profile and no secret, waiting in the warm pool. */
export interface PooledRuntime {
  slot: PoolSlot;
  pid: number;
  startTime: string;
  /** Bearer key of its `POST /admin/assign` (one per process, never written anywhere). */
  key: string;
}

/** Prefab: runtimes pre-started in the warm pool (workload/pool.ts) and given to a profile at its spawn. */
export interface PoolAbility {
  startPooled(slot: PoolSlot, onExit: () => void): Promise<PooledRuntime>;
  /**
   * Make `p` the workload of `spec` (its uid and port): the profile's limits (cgroup, process limit, /tmp size) and
   * console log applied to the process, and the driver watching it as the profile's. Returns the environment and
   * directory to send it (`POST /admin/assign`): what a fresh start of `spec` would have been given.
   */
  claim(p: PooledRuntime, spec: WorkloadSpec): Promise<{ env: Record<string, string>; cwd: string; handle: WorkloadHandle }>;
  /** Stop a pooled runtime that is not (or no longer to be) assigned. */
  discard(p: PooledRuntime): Promise<void>;
  /** Pooled runtimes running on this host with no profile (a previous daemon's pool). */
  listUnassigned(): Promise<Array<{ pid: number; uid: number }>>;
}

/** Abilities only some drivers have, typed, so callers never cast to find them. */
export interface DriverCapabilities {
  /** Runtimes pre-started without a profile, assigned at spawn (process tier). */
  pool?: PoolAbility;
  /** The fleet writes the workloads' console logs itself and rotates them by size (process tier). */
  logRotation?: { rotateLogs(): void };
  /** Let go of watched workloads without stopping them (the daemon stops; profiles keep running). */
  detach?: { detachAll(): void };
  /** Release the driver's connections to its engine. */
  close?: () => void;
}

export interface RuntimeDriver {
  readonly kind: "process" | "docker" | "swarm";
  readonly capabilities: DriverCapabilities;
  /**
   * The uid that listens on the workload's host port when it is the workload itself (the profile's uid for a process,
   * root's docker-proxy for a published container port). Anything else there is a squatter.
   */
  listenerUid(spec: WorkloadSpec): number;
  /**
   * Where the workload's port is reached from this host when it is not 127.0.0.1 (a profile on another swarm node: that
   * node's address). No listener check applies there: the port is on another host, in the task's own namespace.
   */
  address?(spec: WorkloadSpec): Promise<string | undefined>;
  /**
   * Why the workload's host cannot be reached now (its swarm node is down), or undefined. Such a workload is never
   * restarted elsewhere by the supervisor: its directory is on that node, and a second copy must never run.
   */
  unreachable?(spec: WorkloadSpec): Promise<string | undefined>;
  /** Start the workload (creating it if needed). Idempotent: an already running workload for the same generation is returned. */
  start(spec: WorkloadSpec): Promise<WorkloadHandle>;
  /** Graceful stop: SIGTERM (or the engine's stop), then kill after `timeoutMs`. Stopping a stopped workload is not an error. */
  stop(spec: WorkloadSpec, opts?: { timeoutMs?: number }): Promise<void>;
  /** Remove what start created (container); the profile directory is never touched by a driver. */
  remove(spec: WorkloadSpec): Promise<void>;
  inspect(spec: WorkloadSpec, known?: WorkloadHandle): Promise<WorkloadState>;
  /** Re-attach to a workload that a previous control plane started; false when it is gone or not ours. */
  adopt(spec: WorkloadSpec, known: WorkloadHandle): Promise<boolean>;
  logs(spec: WorkloadSpec, opts: LogOptions): AsyncIterable<LogLine>;
  /** Run a command as the profile's uid, in its directory, with its environment; resolves to the exit code. */
  exec(spec: WorkloadSpec, argv: string[], io: ExecIO): Promise<number>;
  stats(spec: WorkloadSpec, known?: WorkloadHandle): Promise<WorkloadStats | null>;
  /** Workloads of ours that exist on this host (for re-adoption and orphan reports). */
  listManaged(): Promise<ManagedWorkload[]>;
  /** Exit notifications for workloads this driver watches (started or adopted). */
  onExit(listener: ExitListener): void;
}
