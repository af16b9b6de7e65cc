/**
 * The `swarm` runtime driver: a profile is a Docker Swarm service with one replica, through the Engine API (dockerode),
 * never the docker CLI. Thin: the service body comes from the pure swarm-spec.ts; this file sends it and reads answers.
 *
 * - Start: the profile's .env (read without following links: the directory is the tenant's) becomes a content-named
 *   Docker secret; the service is created, or updated (ForceUpdate) when its task is gone; we wait for the task's
 *   container to run. A running task is kept, as the container tier keeps a running container.
 * - Stop: scale to 0 (the engine stops the task with its grace period; after `timeoutMs` the container is killed).
 * - Exits: the die event of the task's container, as for the container tier; Swarm itself never restarts a profile
 *   (RestartPolicy none): the fleet's supervisor does, with its backoff, so restart counts and crash loops mean the same
 *   on every tier.
 * - Logs go through the service (any node); exec and stats need the task's container, so only on this node.
 * Ownership: our labels, this profile and generation, and this profile's directory mounted at /profile, on the service.
 */
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Conflict, createLogger, DriverError, LABELS, type Logger, MANAGED_BY, Precondition, workloadName } from "@twilight/core";
import type Docker from "dockerode";
import { dockerClient, engineError, isNotFound, sleep, statusOf } from "../docker/client.js";
import { listNodes, swarmInfo } from "../docker/swarm.js";
import { imageRefs, projectVersion } from "../images/refs.js";
import { readNoFollow } from "../lib/safe-fs.js";
import type { ContainerLimits } from "./container-spec.js";
import { PROFILE_MOUNT, ROLE_PROFILE } from "./container-spec.js";
import { ExitFanout } from "./docker-events.js";
import { execInContainer } from "./docker-exec.js";
import { computeStats, type RawStats } from "./docker-stats.js";
import { engineLogLines } from "./docker-stream.js";
import {
  buildServiceSpec,
  envSecretName,
  NODE_LABEL,
  NODE_ROOT_LABEL,
  type ServiceBody,
  SWARM_NETWORK,
  secretLabels,
} from "./swarm-spec.js";
import type {
  ExecIO,
  ExitListener,
  LogLine,
  LogOptions,
  ManagedWorkload,
  RuntimeDriver,
  WorkloadHandle,
  WorkloadSpec,
  WorkloadState,
  WorkloadStats,
} from "./types.js";

export interface SwarmDriverOptions {
  docker?: Docker;
  image?: string;
  network?: string;
  limitsFor?: (spec: WorkloadSpec) => ContainerLimits;
  /** Containers (by name) that profiles must reach by name on the overlay: the data service. Attached when present. */
  attach?: string[];
  /** How long a start waits for the task's container to run. */
  startTimeoutMs?: number;
  log?: Logger;
}

interface ServiceInfo {
  ID: string;
  Version: { Index: number };
  Spec: ServiceBody & { TaskTemplate: ServiceBody["TaskTemplate"] & { ForceUpdate?: number } };
}

interface TaskInfo {
  ID: string;
  NodeID?: string;
  CreatedAt: string;
  DesiredState: string;
  Status: {
    State: string;
    Err?: string;
    Message?: string;
    Timestamp?: string;
    ContainerStatus?: { ContainerID?: string; PID?: number; ExitCode?: number };
  };
}

/** A swarm node as the fleet places profiles on it. */
export interface FleetNode {
  id: string;
  /** Its io.twilight.node label ("" when the node has none: the fleet places nothing there). */
  name: string;
  addr: string;
  /** Docker's node state: ready, down, unknown, disconnected. */
  state: string;
  /** Availability: active, pause, drain. */
  availability: string;
  /** This engine's own node. */
  self: boolean;
  /** Profiles root on the node (its io.twilight.profiles-root label), when set. */
  root?: string;
  memoryBytes: number;
}

/** Task states after which a task never runs again. */
const FINAL_TASK_STATES = new Set(["complete", "shutdown", "failed", "rejected", "orphaned", "remove"]);

/** The swarm this engine is a manager of, and this node's fleet name (its io.twilight.node label, set if missing). */
export interface SwarmIdentity {
  nodeId: string;
  node: string;
}

/**
 * Ours: our labels, this profile, generation and tier, and this profile's directory at /profile. A service of the same
 * name from another fleet (another profiles root) is never adopted, scaled or removed from here.
 */
function belongsTo(svc: ServiceInfo, spec: WorkloadSpec): boolean {
  const l = svc.Spec.Labels ?? {};
  const mounts = (svc.Spec.TaskTemplate.ContainerSpec.Mounts ?? []) as Array<{ Source?: string; Target?: string }>;
  return (
    l[LABELS.managedBy] === MANAGED_BY &&
    l[LABELS.profile] === spec.profile &&
    l[LABELS.generation] === String(spec.generation) &&
    l[LABELS.tier] === "swarm" &&
    mounts.some((m) => m.Target === PROFILE_MOUNT && m.Source === spec.dir)
  );
}

/** The newest task of a service (the one the engine is running or last ran). */
function newestTask(tasks: TaskInfo[]): TaskInfo | undefined {
  return [...tasks].sort((a, b) => Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt))[0];
}

function taskRunning(t: TaskInfo | undefined): boolean {
  return t?.Status.State === "running" && t.DesiredState === "running" && Boolean(t.Status.ContainerStatus?.ContainerID);
}

/** A readable name for this node from its hostname: what its io.twilight.node label gets when it has none. */
export function nodeNameFrom(hostname: string): string {
  const n = hostname
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, "-")
    .replace(/^[^a-z0-9]+/, "")
    .slice(0, 63);
  return n || "node";
}

/**
 * This engine's place in the swarm: throws a DriverError saying what to do when it is not an active manager. Labels
 * the local node with io.twilight.node (from its hostname) once, so placement constraints have something to match.
 */
export async function swarmIdentity(docker: Docker): Promise<SwarmIdentity> {
  const info = await swarmInfo(docker);
  if (info.state !== "active" || !info.nodeId)
    throw new DriverError("swarm", `this Docker engine is not part of a swarm (state ${info.state})`, {
      hint: "run `hermes-admin swarm init` (or join this host to the swarm), then restart the fleet",
    });
  if (!info.manager)
    throw new DriverError("swarm", "this Docker engine is a swarm worker; the fleet needs a manager", {
      hint: "run the fleet on a manager node, or promote this one (`docker node promote`)",
    });
  const nodeId = info.nodeId;
  const node = docker.getNode(nodeId);
  type NodeInfo = { Version: { Index: number }; Spec: { Labels?: Record<string, string> }; Description?: { Hostname?: string } };
  for (let attempt = 0; attempt < 3; attempt++) {
    const n = (await node.inspect().catch((e: unknown) => {
      throw engineError("inspect this swarm node", e);
    })) as NodeInfo;
    const have = n.Spec.Labels?.[NODE_LABEL];
    if (have) return { nodeId, node: have };
    const name = nodeNameFrom(n.Description?.Hostname ?? nodeId);
    try {
      await node.update({
        _query: { version: n.Version.Index },
        _body: { ...n.Spec, Labels: { ...n.Spec.Labels, [NODE_LABEL]: name } },
      });
      return { nodeId, node: name };
    } catch (e) {
      if (statusOf(e) !== 500 && statusOf(e) !== 409) throw engineError("label this swarm node", e);
      // update out of sequence: another writer won; read again
    }
  }
  throw new DriverError("swarm", "could not label this swarm node (concurrent updates)", { retryable: true });
}

/** Ensure the attachable overlay network exists (idempotent; a 409 from a racing create counts as success). */
export async function ensureOverlay(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getNetwork(name).inspect();
    return;
  } catch (e) {
    if (!isNotFound(e)) throw engineError(`inspect network ${name}`, e);
  }
  try {
    await docker.createNetwork({
      Name: name,
      Driver: "overlay",
      Attachable: true,
      CheckDuplicate: true,
      Labels: { [LABELS.managedBy]: MANAGED_BY },
    });
  } catch (e) {
    if (statusOf(e) !== 409) throw engineError(`create overlay network ${name}`, e);
  }
}

export async function connectSwarmDriver(opts: SwarmDriverOptions = {}): Promise<SwarmDriver> {
  const docker = opts.docker ?? dockerClient();
  const id = await swarmIdentity(docker);
  await ensureOverlay(docker, opts.network ?? SWARM_NETWORK);
  const image = opts.image ?? imageRefs(await projectVersion()).profile;
  return new SwarmDriver({ ...opts, docker, image }, id);
}

export class SwarmDriver implements RuntimeDriver {
  readonly kind = "swarm" as const;
  readonly capabilities = { close: () => this.close() };
  readonly docker: Docker;
  private readonly network: string;
  private readonly log: Logger;
  private readonly exits: ExitFanout;

  constructor(
    private readonly opts: SwarmDriverOptions,
    readonly identity: SwarmIdentity,
  ) {
    this.docker = opts.docker ?? dockerClient();
    this.network = opts.network ?? SWARM_NETWORK;
    this.log = (opts.log ?? createLogger("fleet")).child({ driver: "swarm" });
    // a task's container is named `<service>.<slot>.<task id>`: its service name says whose exit it is
    this.exits = new ExitFanout(this.docker, this.log, (n) => n.split(".")[0] ?? "", "swarm task");
  }

  /** Host-mode publishing goes through the engine's root-owned proxy, as for the container tier. */
  listenerUid(_spec: WorkloadSpec): number {
    return 0;
  }

  private nodeCache: { at: number; nodes: FleetNode[] } | undefined;

  /** The swarm's nodes (one engine listing, cached for `maxAgeMs`: health rounds ask for each remote profile). */
  async nodes(maxAgeMs = 2_000): Promise<FleetNode[]> {
    if (this.nodeCache && Date.now() - this.nodeCache.at <= maxAgeMs) return this.nodeCache.nodes;
    const nodes = (await listNodes(this.docker)).map((n) => ({
      id: n.id,
      name: n.labels[NODE_LABEL] ?? "",
      addr: n.addr,
      state: n.state,
      availability: n.availability,
      self: n.id === this.identity.nodeId,
      ...(n.labels[NODE_ROOT_LABEL] ? { root: n.labels[NODE_ROOT_LABEL] } : {}),
      memoryBytes: n.memoryBytes,
    }));
    this.nodeCache = { at: Date.now(), nodes };
    return nodes;
  }

  /** A node by its fleet name; throws an operator-readable error when there is none. */
  async node(name: string, maxAgeMs = 2_000): Promise<FleetNode> {
    const n = (await this.nodes(maxAgeMs)).find((x) => x.name === name);
    if (!n)
      throw new Precondition(`no swarm node is named ${name}`, {
        hint: "`hermes-admin nodes` lists the nodes by name; a node gets its name from its io.twilight.node label",
      });
    return n;
  }

  /** Whether `spec` runs on another node than this engine's. */
  isRemote(spec: Pick<WorkloadSpec, "node">): boolean {
    return Boolean(spec.node) && spec.node !== this.identity.node;
  }

  /**
   * Asked after a profile on another node did not answer: its node is down, or the swarm still reports its task
   * running (a node's engine that died is noticed only after missed heartbeats; its containers may live on). Either way
   * the fleet reports it and starts nothing: only a task the swarm saw end is restarted (on its own node).
   */
  async unreachable(spec: WorkloadSpec): Promise<string | undefined> {
    if (!this.isRemote(spec)) return undefined;
    const n = (await this.nodes(0)).find((x) => x.name === spec.node);
    if (!n) return `unreachable: swarm node ${spec.node} has left the swarm`;
    if (n.state !== "ready") return `unreachable: swarm node ${spec.node} is ${n.state}`;
    if (await this.liveTask(workloadName(spec.profile, spec.generation)))
      return `unreachable: no answer from swarm node ${spec.node}, where the swarm still reports its task running`;
    return undefined;
  }

  /** A profile on another node is reached at that node's address (host-mode port there); on this node, loopback. */
  async address(spec: WorkloadSpec): Promise<string | undefined> {
    if (!this.isRemote(spec)) return undefined;
    const n = await this.node(spec.node as string, 10_000);
    if (!n.addr) throw new DriverError("swarm", `swarm node ${n.name} reports no address`, { retryable: true });
    return n.addr;
  }

  /** The service body this driver would send for `spec` with a given secret and image (pure; for tests and `compose`). */
  serviceSpec(spec: WorkloadSpec, secret: { id: string; name: string }, imageId?: string): ServiceBody {
    return buildServiceSpec(spec, {
      image: this.opts.image,
      imageId,
      network: this.network,
      limits: this.opts.limitsFor?.(spec),
      node: spec.node ?? this.identity.node,
      secret,
    });
  }

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    const name = workloadName(spec.profile, spec.generation);
    let svc = await this.service(name);
    if (svc && !belongsTo(svc, spec))
      throw new Conflict(`a swarm service named ${name} exists and is not this profile's generation`, {
        hint: "it was not created by the fleet for this profile; remove it by hand (`docker service rm`) after checking",
      });
    if (svc && (await this.liveTask(name))) {
      this.watch(name, spec);
      return this.handleOf(svc, name);
    }
    await this.attachPlatform();
    const secret = await this.ensureSecret(spec);
    const body = this.serviceSpec(spec, secret, await this.imageId(spec.image ?? this.opts.image));
    // the task to wait for is a new one: an old task can still read `running` for a moment after its container died
    const old = new Set((await this.tasks(name)).map((t) => t.ID));
    if (!svc) {
      try {
        await this.docker.createService(body as never);
      } catch (e) {
        if (statusOf(e) !== 409) throw engineError(`create service ${name}`, e);
      }
    } else {
      // spec changed or not: the task is gone, so the service gets the current body and a forced new task
      await this.updateService(name, (cur) => ({
        ...body,
        TaskTemplate: { ...body.TaskTemplate, ForceUpdate: (cur.Spec.TaskTemplate.ForceUpdate ?? 0) + 1 },
      }));
    }
    this.watch(name, spec);
    svc = await this.service(name);
    if (!svc) throw new DriverError("swarm", `service ${name} vanished after create`, { retryable: true });
    const handle = await this.waitRunning(name, this.opts.startTimeoutMs ?? 60_000, old);
    void this.pruneSecrets(spec, secret.name);
    this.log.info(
      { profile: spec.profile, generation: spec.generation, container: handle.containerId?.slice(0, 12) },
      "swarm task running",
    );
    return { ...handle, serviceId: svc.ID };
  }

  async stop(spec: WorkloadSpec, opts: { timeoutMs?: number } = {}): Promise<void> {
    const name = workloadName(spec.profile, spec.generation);
    const svc = await this.owned(spec);
    if (!svc) return;
    // a task on this node is stopped through its container at once (SIGTERM, then SIGKILL after the timeout), beside
    // the scale to 0: the swarm takes ~3 s to report a task shut down, and a move holds requests for that long. With
    // restart policy none the swarm never replaces the stopped task.
    const local = (await this.tasks(name)).filter(
      (t) => !FINAL_TASK_STATES.has(t.Status.State) && t.NodeID === this.identity.nodeId && t.Status.ContainerStatus?.ContainerID,
    );
    const stopping = local.map((t) =>
      this.docker
        .getContainer(t.Status.ContainerStatus?.ContainerID as string)
        .stop({ t: Math.ceil((opts.timeoutMs ?? 10_000) / 1000) })
        .catch((e: unknown) => {
          if (!isNotFound(e) && statusOf(e) !== 304) throw engineError(`stop the container of ${name}`, e);
        }),
    );
    if (svc.Spec.Mode.Replicated.Replicas !== 0)
      await this.updateService(name, (cur) => ({ ...cur.Spec, Mode: { Replicated: { Replicas: 0 } } }));
    await Promise.all(stopping);
    // every task of this service ran here and its container has stopped: nothing of it runs any more
    const all = (await this.tasks(name)).filter((t) => !FINAL_TASK_STATES.has(t.Status.State));
    if (local.length > 0 && all.every((t) => local.some((l) => l.ID === t.ID))) return;
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      const running = (await this.tasks(name)).filter((t) => !FINAL_TASK_STATES.has(t.Status.State));
      if (running.length === 0) return;
      if (Date.now() >= deadline) {
        for (const t of running) {
          const cid = t.Status.ContainerStatus?.ContainerID;
          if (cid && t.NodeID === this.identity.nodeId)
            await this.docker
              .getContainer(cid)
              .kill()
              .catch(() => undefined);
        }
        if (Date.now() >= deadline + 10_000)
          throw new DriverError("swarm", `the task of ${name} did not stop`, {
            retryable: true,
            hint: "see `docker service ps`",
          });
      }
      await sleep(100);
    }
  }

  async remove(spec: WorkloadSpec): Promise<void> {
    const name = workloadName(spec.profile, spec.generation);
    this.exits.unwatch(name);
    const svc = await this.owned(spec);
    if (svc) {
      try {
        await this.docker.getService(svc.ID).remove();
      } catch (e) {
        if (!isNotFound(e)) throw engineError(`remove service ${name}`, e);
      }
      // the engine removes the task's container asynchronously: wait, so the port and the name are free again
      for (let i = 0; i < 100; i++) {
        const left = await this.taskContainers(name);
        if (left.length === 0) break;
        await sleep(100);
      }
    }
    await this.pruneSecrets(spec);
  }

  async inspect(spec: WorkloadSpec): Promise<WorkloadState> {
    const name = workloadName(spec.profile, spec.generation);
    const svc = await this.owned(spec);
    if (!svc) return { running: false, reason: "missing" };
    const live = await this.liveTask(name);
    if (live) {
      const cs = live.Status.ContainerStatus;
      return {
        running: true,
        containerId: cs?.ContainerID,
        ...(cs?.PID ? { pid: cs.PID } : {}),
        startedAt: live.Status.Timestamp,
      };
    }
    if (svc.Spec.Mode.Replicated.Replicas === 0) return { running: false, reason: "scaled to 0 (stopped)" };
    const t = newestTask(await this.tasks(name));
    if (!t) return { running: false, reason: "no task scheduled yet" };
    return {
      running: false,
      containerId: t.Status.ContainerStatus?.ContainerID,
      exitCode: t.Status.ContainerStatus?.ExitCode ?? null,
      reason: taskRunning(t)
        ? "its container has exited (swarm not told yet)"
        : `task ${t.Status.State}${t.Status.Err ? `: ${t.Status.Err}` : ""}`,
    };
  }

  async adopt(spec: WorkloadSpec): Promise<boolean> {
    const state = await this.inspect(spec);
    if (!state.running) return false;
    this.watch(workloadName(spec.profile, spec.generation), spec);
    this.log.info(
      { profile: spec.profile, generation: spec.generation, container: state.containerId?.slice(0, 12) },
      "swarm task adopted",
    );
    return true;
  }

  async *logs(spec: WorkloadSpec, opts: LogOptions): AsyncIterable<LogLine> {
    const svc = await this.owned(spec);
    if (!svc) throw new DriverError("swarm", `no service for ${spec.profile} generation ${spec.generation}`);
    const s = this.docker.getService(svc.ID);
    const base = { stdout: true, stderr: true, tail: opts.tail ?? 100, timestamps: false, details: false };
    const out = (await s.logs({ ...base, follow: opts.follow } as Parameters<typeof s.logs>[0])) as unknown as Readable | Buffer;
    yield* engineLogLines(out, opts.signal, (e) => engineError(`logs of ${svc.Spec.Name}`, e));
  }

  async exec(spec: WorkloadSpec, argv: string[], io: ExecIO): Promise<number> {
    const t = await this.localTask(spec);
    return execInContainer(this.docker, t.Status.ContainerStatus?.ContainerID as string, spec, argv, io);
  }

  async stats(spec: WorkloadSpec): Promise<WorkloadStats | null> {
    const name = workloadName(spec.profile, spec.generation);
    const t = newestTask(await this.tasks(name));
    if (!t || !taskRunning(t) || t.NodeID !== this.identity.nodeId) return null;
    try {
      const cid = t.Status.ContainerStatus?.ContainerID as string;
      return computeStats((await this.docker.getContainer(cid).stats({ stream: false })) as unknown as RawStats);
    } catch (e) {
      if (isNotFound(e) || statusOf(e) === 409) return null;
      throw engineError(`stats of ${name}`, e);
    }
  }

  async listManaged(): Promise<ManagedWorkload[]> {
    let services: ServiceInfo[];
    try {
      services = (await this.docker.listServices({
        filters: { label: [`${LABELS.managedBy}=${MANAGED_BY}`, `${LABELS.role}=${ROLE_PROFILE}`, `${LABELS.tier}=swarm`] },
      })) as unknown as ServiceInfo[];
    } catch (e) {
      throw engineError("list services", e);
    }
    const out: ManagedWorkload[] = [];
    for (const s of services) {
      const l = s.Spec.Labels ?? {};
      const profile = l[LABELS.profile];
      const generation = Number(l[LABELS.generation]);
      if (l[LABELS.managedBy] !== MANAGED_BY || !profile || !Number.isInteger(generation)) continue;
      const t = newestTask(await this.tasks(s.Spec.Name));
      const mounts = (s.Spec.TaskTemplate.ContainerSpec.Mounts ?? []) as Array<{ Source?: string; Target?: string }>;
      out.push({
        profile,
        generation,
        tier: "swarm",
        containerId: t?.Status.ContainerStatus?.ContainerID,
        running: taskRunning(t),
        dir: mounts.find((m) => m.Target === PROFILE_MOUNT)?.Source,
      });
    }
    return out;
  }

  onExit(listener: ExitListener): void {
    this.exits.onExit(listener);
  }

  close(): void {
    this.exits.close();
  }

  // ---- engine helpers ----

  private watch(name: string, spec: WorkloadSpec): void {
    this.exits.watch(name, spec);
  }

  private async service(idOrName: string): Promise<ServiceInfo | undefined> {
    try {
      return (await this.docker.getService(idOrName).inspect()) as ServiceInfo;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw engineError(`inspect service ${idOrName}`, e);
    }
  }

  private async owned(spec: WorkloadSpec): Promise<ServiceInfo | undefined> {
    const svc = await this.service(workloadName(spec.profile, spec.generation));
    return svc && belongsTo(svc, spec) ? svc : undefined;
  }

  private async tasks(serviceName: string): Promise<TaskInfo[]> {
    try {
      return (await this.docker.listTasks({ filters: { service: [serviceName] } })) as unknown as TaskInfo[];
    } catch (e) {
      if (isNotFound(e)) return [];
      throw engineError(`list tasks of ${serviceName}`, e);
    }
  }

  private async taskContainers(serviceName: string): Promise<string[]> {
    const list = await this.docker
      .listContainers({ all: true, filters: { label: [`com.docker.swarm.service.name=${serviceName}`] } })
      .catch((e: unknown) => {
        throw engineError(`list containers of ${serviceName}`, e);
      });
    return list.map((c) => c.Id);
  }

  private handleOf(svc: ServiceInfo, _name: string): Promise<WorkloadHandle> {
    return this.tasks(svc.Spec.Name).then((ts) => {
      const t = newestTask(ts);
      const cs = t?.Status.ContainerStatus;
      return {
        serviceId: svc.ID,
        ...(cs?.ContainerID ? { containerId: cs.ContainerID } : {}),
        ...(cs?.PID ? { pid: cs.PID } : {}),
      };
    });
  }

  /**
   * The newest task when it runs. Swarm learns of a container's exit a moment after the engine: a task still marked
   * running whose container (on this node) has stopped is not live, so a restart right after a crash makes a new one.
   */
  private async liveTask(name: string): Promise<TaskInfo | undefined> {
    const t = newestTask(await this.tasks(name));
    if (!t || !taskRunning(t)) return undefined;
    if (t.NodeID !== this.identity.nodeId) return t;
    try {
      const c = (await this.docker.getContainer(t.Status.ContainerStatus?.ContainerID as string).inspect()) as {
        State: { Running: boolean };
      };
      return c.State.Running ? t : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw engineError(`inspect the container of ${name}`, e);
    }
  }

  /** Update a service from its current version (retried when another update got in between). */
  private async updateService(name: string, next: (cur: ServiceInfo) => ServiceBody): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const cur = await this.service(name);
      if (!cur) throw new DriverError("swarm", `service ${name} is gone`, { retryable: true });
      try {
        await this.docker.getService(cur.ID).update({ _query: { version: cur.Version.Index }, _body: next(cur) });
        return;
      } catch (e) {
        const outOfSequence = /update out of sequence/i.test(String((e as { json?: { message?: string } }).json?.message ?? e));
        if (!outOfSequence || attempt >= 4) throw engineError(`update service ${name}`, e);
      }
    }
  }

  /** Wait until the newest task runs with a container; a task that ends first is a start failure with its reason. */
  private async waitRunning(name: string, timeoutMs: number, old: ReadonlySet<string>): Promise<WorkloadHandle> {
    const deadline = Date.now() + timeoutMs;
    let last: TaskInfo | undefined;
    while (Date.now() < deadline) {
      last = newestTask((await this.tasks(name)).filter((t) => !old.has(t.ID)));
      if (last && taskRunning(last)) {
        const cs = last.Status.ContainerStatus;
        return { containerId: cs?.ContainerID, ...(cs?.PID ? { pid: cs.PID } : {}) };
      }
      if (last && FINAL_TASK_STATES.has(last.Status.State) && last.DesiredState === "running")
        throw new DriverError(
          "swarm",
          `the task of ${name} ended: ${last.Status.State}${last.Status.Err ? `: ${last.Status.Err}` : ""}`,
          {
            hint: "see `docker service ps --no-trunc " + name + "`",
          },
        );
      await sleep(50);
    }
    throw new DriverError(
      "swarm",
      `the task of ${name} did not start in ${Math.round(timeoutMs / 1000)} s (last state: ${last?.Status.State ?? "none"}${last?.Status.Err ? `: ${last.Status.Err}` : ""})`,
      {
        retryable: true,
        hint: "is the image on the node (`hermes-admin images build` there) and the node labelled io.twilight.node? see `docker service ps`",
      },
    );
  }

  private async localTask(spec: WorkloadSpec): Promise<TaskInfo> {
    const name = workloadName(spec.profile, spec.generation);
    const t = newestTask(await this.tasks(name));
    if (!t || !taskRunning(t))
      throw new Precondition(`profile ${spec.profile} is not running`, {
        hint: `start it first: hermes-admin start ${spec.profile}`,
      });
    if (t.NodeID !== this.identity.nodeId)
      throw new Precondition(`profile ${spec.profile} runs on another swarm node (${t.NodeID?.slice(0, 12)})`, {
        hint: "run the command against the fleet on that node",
      });
    return t;
  }

  /**
   * The image's id on this engine. A service names its image by id: a task's engine then never tries a registry (a
   * name makes it pull first, which on a host without one costs ~35 s of timeouts per start), and every node runs the
   * very image the fleet checked (load it on other nodes with `docker save | docker load`, which keeps the id).
   */
  private async imageId(ref: string | undefined): Promise<string> {
    if (!ref) throw new DriverError("swarm", "no profile image configured", { hint: "run `hermes-admin images build`" });
    try {
      return ((await this.docker.getImage(ref).inspect()) as { Id: string }).Id;
    } catch (e) {
      if (isNotFound(e))
        throw new DriverError("swarm", `image ${ref} is not on this host`, { hint: "run `hermes-admin images build`" });
      throw engineError(`inspect image ${ref}`, e);
    }
  }

  /** The secret holding the profile's .env now (created when its content is new). */
  private async ensureSecret(spec: WorkloadSpec): Promise<{ id: string; name: string }> {
    const envText = await readNoFollow(join(spec.dir, ".env"), { owners: [0, spec.uid], maxBytes: 64 * 1024 });
    const name = envSecretName(spec, envText);
    const found = (await this.docker.listSecrets({ filters: { name: [name] } }).catch((e: unknown) => {
      throw engineError("list secrets", e);
    })) as Array<{ ID: string; Spec: { Name: string; Labels?: Record<string, string> } }>;
    const mine = found.find((s) => s.Spec.Name === name);
    if (mine) {
      if (mine.Spec.Labels?.[LABELS.managedBy] !== MANAGED_BY || mine.Spec.Labels?.[LABELS.profile] !== spec.profile)
        throw new Conflict(`a Docker secret named ${name} exists and is not this profile's`, {
          hint: "remove it by hand after checking",
        });
      return { id: mine.ID, name };
    }
    try {
      const created = (await this.docker.createSecret({
        Name: name,
        Labels: secretLabels(spec),
        Data: Buffer.from(envText).toString("base64"),
      })) as { id?: string; ID?: string };
      return { id: (created.id ?? created.ID) as string, name };
    } catch (e) {
      if (statusOf(e) === 409) return this.ensureSecret(spec);
      throw engineError(`create secret ${name}`, e);
    }
  }

  /** Remove this profile generation's secrets other than `keep` (one in use by a task the engine refuses: kept). */
  private async pruneSecrets(spec: WorkloadSpec, keep?: string): Promise<void> {
    const list = (await this.docker
      .listSecrets({
        filters: {
          label: [
            `${LABELS.managedBy}=${MANAGED_BY}`,
            `${LABELS.profile}=${spec.profile}`,
            `${LABELS.generation}=${spec.generation}`,
          ],
        },
      })
      .catch(() => [])) as Array<{ ID: string; Spec: { Name: string; Labels?: Record<string, string> } }>;
    for (const s of list) {
      if (s.Spec.Name === keep || s.Spec.Labels?.[LABELS.role] !== "profile-secret") continue;
      await this.docker
        .getSecret(s.ID)
        .remove()
        .catch((e: unknown) => this.log.debug({ secret: s.Spec.Name, err: (e as Error).message }, "secret kept (in use)"));
    }
  }

  /** Attach the platform's containers (the data service) to the overlay, so profiles reach them by name. */
  private async attachPlatform(): Promise<void> {
    for (const c of this.opts.attach ?? []) {
      try {
        const info = (await this.docker.getContainer(c).inspect()) as {
          NetworkSettings?: { Networks?: Record<string, unknown> };
        };
        if (info.NetworkSettings?.Networks?.[this.network]) continue;
        await this.docker.getNetwork(this.network).connect({ Container: c, EndpointConfig: { Aliases: [c] } });
      } catch (e) {
        if (isNotFound(e)) continue; // not running here: profiles report the data service as unreachable
        if (statusOf(e) === 403 || statusOf(e) === 409) continue; // already attached
        this.log.warn({ container: c, err: (e as Error).message }, "could not attach to the swarm network");
      }
    }
  }
}
