/**
 * The `docker` runtime driver: profiles as hardened containers, through the Docker Engine API (dockerode), never the
 * docker CLI. Thin: the create body comes from the pure container-spec.ts; this file only sends it and reads answers.
 * Docker never restarts a profile container (RestartPolicy "no"): exits are reported through onExit and the fleet's
 * supervisor applies the same backoff as for the process tier.
 */
import type { Readable } from "node:stream";
import { Conflict, createLogger, DriverError, LABELS, type Logger, MANAGED_BY, Precondition, workloadName } from "@twilight/core";
import type Docker from "dockerode";
import { dockerClient, engineError, ensureNetwork, imageExists, isNotFound, statusOf } from "../docker/client.js";
import { imageRefs, projectVersion } from "../images/refs.js";
import {
  buildContainerSpec,
  type ContainerLimits,
  type ContainerSpecOptions,
  DEFAULT_NETWORK,
  PROFILE_MOUNT,
  SPEC_HASH_LABEL,
} from "./container-spec.js";
import { type ContainerSummary, selectProfileContainers } from "./docker-cleanup.js";
import { ExitFanout } from "./docker-events.js";
import { execInContainer } from "./docker-exec.js";
import { computeStats, type RawStats } from "./docker-stats.js";
import { engineLogLines } from "./docker-stream.js";
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

export interface DockerDriverOptions {
  docker?: Docker;
  /** Docker network of profile containers (default: the engine's default bridge, FLEET_CONTAINER_NETWORK). */
  network?: string;
  /** The data service's socket directory, mounted read-only into every profile container (container-spec.ts). */
  dataSocketDir?: string;
  /** Image for specs without one. */
  image?: string;
  /** Limits per workload (e.g. from the registry row's plan via limitsForPlan); default PLAN_LIMITS.default. */
  limitsFor?: (spec: WorkloadSpec) => ContainerLimits;
  /** Further spec options (log rotation, health check, init). */
  spec?: Omit<ContainerSpecOptions, "network" | "image" | "limits" | "dataSocketDir">;
  log?: Logger;
}

type ContainerInspect = Awaited<ReturnType<Docker.Container["inspect"]>>;

/**
 * Ours: our labels for this profile and generation, and this profile's directory bind-mounted at /profile. The name
 * alone is not enough: another fleet on the same host (the operator's beside a test's) may have a profile of the same
 * name, and its container must never be adopted, stopped or removed from here.
 */
function belongsTo(info: ContainerInspect, spec: WorkloadSpec): boolean {
  const l = info.Config.Labels ?? {};
  return (
    l[LABELS.managedBy] === MANAGED_BY &&
    l[LABELS.profile] === spec.profile &&
    l[LABELS.generation] === String(spec.generation) &&
    (info.Mounts ?? []).some((m) => m.Destination === PROFILE_MOUNT && m.Source === spec.dir)
  );
}

function stateOf(info: ContainerInspect): WorkloadState {
  const s = info.State;
  const st: WorkloadState = {
    running: s.Running,
    containerId: info.Id,
    exitCode: s.Running ? null : s.ExitCode,
    startedAt: s.StartedAt,
  };
  if (s.Running && s.Pid) st.pid = s.Pid;
  if (!s.Running) {
    if (s.OOMKilled) st.reason = "killed: out of memory";
    else if (s.Status === "created") st.reason = "created, not started";
    else st.reason = `exited with code ${s.ExitCode}${s.Error ? `: ${s.Error}` : ""}`;
  } else if (s.Health?.Status === "unhealthy") st.reason = "unhealthy (docker health check)";
  return st;
}

/**
 * A driver for this host's engine, or a retryable DriverError when the engine does not answer (the daemon then runs
 * without the container tier). Ensures the `twilight` network once up front. The default image for specs without one is
 * twilight/hermes-profile:<project version>.
 */
export async function connectDockerDriver(opts: DockerDriverOptions = {}): Promise<DockerDriver> {
  const docker = opts.docker ?? dockerClient();
  try {
    await docker.ping();
  } catch (e) {
    throw engineError("ping the Docker engine", e);
  }
  await ensureNetwork(docker, opts.network ?? DEFAULT_NETWORK);
  const image = opts.image ?? imageRefs(await projectVersion()).profile;
  return new DockerDriver({ ...opts, docker, image });
}

export class DockerDriver implements RuntimeDriver {
  readonly kind = "docker" as const;
  readonly capabilities = { close: () => this.close() };

  /** Docker publishes the port through its root-owned proxy; a tenant cannot listen as root on the host. */
  listenerUid(_spec: WorkloadSpec): number {
    return 0;
  }
  readonly docker: Docker;
  private readonly network: string;
  private readonly log: Logger;
  private readonly exits: ExitFanout;

  constructor(private readonly opts: DockerDriverOptions = {}) {
    this.docker = opts.docker ?? dockerClient();
    this.network = opts.network ?? DEFAULT_NETWORK;
    this.log = (opts.log ?? createLogger("fleet")).child({ driver: "docker" });
    this.exits = new ExitFanout(this.docker, this.log, (n) => n, "container");
  }

  /** The create body this driver would send (pure; `hermes-admin compose` renders from the same function). */
  containerSpec(spec: WorkloadSpec) {
    return buildContainerSpec(spec, {
      ...this.opts.spec,
      network: this.network,
      ...(this.opts.dataSocketDir ? { dataSocketDir: this.opts.dataSocketDir } : {}),
      image: this.opts.image,
      limits: this.opts.limitsFor?.(spec),
    });
  }

  async start(spec: WorkloadSpec): Promise<WorkloadHandle> {
    const body = this.containerSpec(spec);
    const name = body.name;
    let info = await this.inspectName(name);
    if (info && !belongsTo(info, spec))
      throw new Conflict(`a container named ${name} exists and is not this profile's generation`, {
        hint: "it was not created by the fleet for this profile; remove or rename it by hand after checking what it is",
      });
    // A stopped container whose spec (standby, limits, mounts...) or image changed is re-created; a running one is kept.
    if (
      info &&
      !info.State.Running &&
      (info.Config.Labels?.[SPEC_HASH_LABEL] !== body.Labels?.[SPEC_HASH_LABEL] || (await this.imageMoved(info, body.Image)))
    ) {
      this.log.info({ profile: spec.profile, generation: spec.generation }, "container spec or image changed: re-creating");
      await this.docker
        .getContainer(info.Id)
        .remove({ force: true })
        .catch((e: unknown) => {
          if (!isNotFound(e)) throw engineError(`remove ${name}`, e);
        });
      info = undefined;
    }
    let id = info?.Id;
    if (!info) id = await this.create(name, body, spec);
    this.watch(name, spec);
    if (!info?.State.Running) {
      await this.startContainer(name, id as string);
      info = await this.inspectName(name);
      if (!info || !belongsTo(info, spec))
        throw new DriverError("docker", `container ${name} vanished after it was started`, { retryable: true });
    }
    this.log.info({ profile: spec.profile, generation: spec.generation, container: info.Id.slice(0, 12) }, "container started");
    return { containerId: info.Id, ...(info.State.Pid ? { pid: info.State.Pid } : {}) };
  }

  /** Start a created container; a network removed since it was made is made again (once) and the start retried. */
  private async startContainer(name: string, id: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.docker.getContainer(id).start();
        return;
      } catch (e) {
        if (statusOf(e) === 304) return;
        const gone = /network \S+ not found/i.test((e as Error).message);
        if (!gone || attempt > 0) throw engineError(`start ${name}`, e);
        this.log.warn({ network: this.network }, "the profiles' network is gone: making it again");
        await ensureNetwork(this.docker, this.network);
      }
    }
  }

  /**
   * Create the container; its id. The network and the image are checked only when the engine refuses (the network is
   * made at connect, the image by `images build`; a network removed since is found by create or by start): each check
   * is a round trip to the engine, and a spawn made seven of them where four do (inspect, create, start, inspect).
   */
  private async create(name: string, body: ReturnType<DockerDriver["containerSpec"]>, spec: WorkloadSpec): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return (await this.docker.createContainer(body)).id;
      } catch (e) {
        if (statusOf(e) === 409) {
          const info = await this.inspectName(name); // created meanwhile (a concurrent start of the same spec)
          if (info && belongsTo(info, spec)) return info.Id;
          throw new DriverError("docker", `container ${name} vanished after create`, { retryable: true });
        }
        if (statusOf(e) !== 404 || attempt > 0) throw engineError(`create ${name}`, e);
        // 404: the image or (on some engines) the network is missing; say which, or make the network and retry once
        if (!(await imageExists(this.docker, body.Image)))
          throw new DriverError("docker", `image ${body.Image} is not on this host`, { hint: "run `hermes-admin images build`" });
        await ensureNetwork(this.docker, this.network);
      }
    }
  }

  async stop(spec: WorkloadSpec, opts: { timeoutMs?: number } = {}): Promise<void> {
    const info = await this.owned(spec);
    if (!info || !info.State.Running) return;
    const t = Math.max(0, Math.ceil((opts.timeoutMs ?? 10_000) / 1000));
    try {
      // The engine sends the StopSignal (SIGTERM), waits t seconds, then SIGKILLs.
      await this.docker.getContainer(info.Id).stop({ t });
    } catch (e) {
      if (statusOf(e) !== 304 && !isNotFound(e)) throw engineError(`stop ${info.Name}`, e);
    }
  }

  async remove(spec: WorkloadSpec): Promise<void> {
    const name = workloadName(spec.profile, spec.generation);
    this.exits.unwatch(name);
    const info = await this.owned(spec);
    if (!info) return;
    try {
      await this.docker.getContainer(info.Id).remove({ force: true, v: true });
    } catch (e) {
      if (!isNotFound(e)) throw engineError(`remove ${name}`, e);
    }
  }

  async inspect(spec: WorkloadSpec, known?: WorkloadHandle): Promise<WorkloadState> {
    const info = await this.owned(spec, known);
    if (!info) return { running: false, reason: "missing" };
    return stateOf(info);
  }

  async adopt(spec: WorkloadSpec, known: WorkloadHandle): Promise<boolean> {
    const info = await this.owned(spec, known);
    if (!info || !info.State.Running) return false;
    this.watch(workloadName(spec.profile, spec.generation), spec);
    this.log.info({ profile: spec.profile, generation: spec.generation, container: info.Id.slice(0, 12) }, "container adopted");
    return true;
  }

  async *logs(spec: WorkloadSpec, opts: LogOptions): AsyncIterable<LogLine> {
    const info = await this.owned(spec);
    if (!info) throw new DriverError("docker", `no container for ${spec.profile} generation ${spec.generation}`);
    const c = this.docker.getContainer(info.Id);
    const base = { stdout: true, stderr: true, tail: opts.tail ?? 100, timestamps: false };
    const out = opts.follow
      ? ((await c.logs({ ...base, follow: true })) as unknown as Readable)
      : ((await c.logs({ ...base, follow: false })) as unknown as Buffer | string);
    const source = typeof out === "string" ? Buffer.from(out) : out;
    yield* engineLogLines(source, opts.signal, (e) => engineError(`logs of ${info.Name}`, e));
  }

  async exec(spec: WorkloadSpec, argv: string[], io: ExecIO): Promise<number> {
    const info = await this.owned(spec);
    if (!info?.State.Running)
      throw new Precondition(`profile ${spec.profile} is not running`, {
        hint: `start it first: hermes-admin start ${spec.profile}`,
      });
    return execInContainer(this.docker, info.Id, spec, argv, io);
  }

  async stats(spec: WorkloadSpec, known?: WorkloadHandle): Promise<WorkloadStats | null> {
    const info = await this.owned(spec, known);
    if (!info?.State.Running) return null;
    try {
      const raw = (await this.docker.getContainer(info.Id).stats({ stream: false })) as unknown as RawStats;
      return computeStats(raw);
    } catch (e) {
      if (isNotFound(e) || statusOf(e) === 409) return null;
      throw engineError(`stats of ${info.Name}`, e);
    }
  }

  async listManaged(): Promise<ManagedWorkload[]> {
    let list: ContainerSummary[];
    try {
      list = (await this.docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.managedBy}=${MANAGED_BY}`, `${LABELS.role}=profile`] },
      })) as unknown as ContainerSummary[];
    } catch (e) {
      throw engineError("list containers", e);
    }
    const tiers = new Map(list.map((c) => [c.Id, c.Labels[LABELS.tier]]));
    const mounts = new Map(list.map((c) => [c.Id, c.Mounts?.find((m) => m.Destination === PROFILE_MOUNT)?.Source]));
    // a swarm task's container carries the profile labels too (tier swarm): the swarm driver reports it, not this one
    return selectProfileContainers(list.filter((c) => c.Labels[LABELS.tier] !== "swarm")).map((c) => ({
      profile: c.profile,
      generation: c.generation,
      tier: tiers.get(c.id) === "prefab" ? "prefab" : "container",
      containerId: c.id,
      running: c.running,
      dir: mounts.get(c.id),
    }));
  }

  onExit(listener: ExitListener): void {
    this.exits.onExit(listener);
  }

  /** Stop watching engine events (lets the process exit). Containers keep running. */
  close(): void {
    this.exits.close();
  }

  private watch(name: string, spec: WorkloadSpec): void {
    this.exits.watch(name, spec);
  }

  /** True when the image reference now names another image than the one the container was created from. */
  private async imageMoved(info: ContainerInspect, ref: string): Promise<boolean> {
    try {
      return ((await this.docker.getImage(ref).inspect()) as { Id: string }).Id !== info.Image;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw engineError(`inspect image ${ref}`, e);
    }
  }

  private async inspectName(idOrName: string): Promise<ContainerInspect | undefined> {
    try {
      return await this.docker.getContainer(idOrName).inspect();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw engineError(`inspect ${idOrName}`, e);
    }
  }

  /** The container of this profile generation, proven ours by its labels (by known id first, else by name). */
  private async owned(spec: WorkloadSpec, known?: WorkloadHandle): Promise<ContainerInspect | undefined> {
    if (known?.containerId) {
      const byId = await this.inspectName(known.containerId);
      if (byId && belongsTo(byId, spec)) return byId;
    }
    const byName = await this.inspectName(workloadName(spec.profile, spec.generation));
    return byName && belongsTo(byName, spec) ? byName : undefined;
  }
}
