/**
 * `hermes-admin mcp up|down|status`: the data service as the container `twilight-mcp-tushare` on network `twilight`,
 * published on 127.0.0.1:9100, its data directory (host `ops/mcp` by default) bind-mounted at /data.
 * `up` is idempotent: an up-to-date running container is left alone, a changed spec or image re-creates it.
 * Only a container carrying our managed-by and role=data-service labels is ever stopped or removed.
 */
import { chmod, lchown, mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { Conflict, createLogger, DriverError, LABELS, type Logger, MANAGED_BY, Precondition } from "@twilight/core";
import type Docker from "dockerode";
import { dockerClient, engineError, ensureNetwork, isNotFound, sleep, statusOf } from "../docker/client.js";
import { imageRefs, projectVersion, REPO_ROOT } from "../images/refs.js";
import { lchownTree } from "../lib/safe-fs.js";
import { FrameDemuxer } from "../runtime/docker-stream.js";
import { ensureOverlay } from "../runtime/swarm.js";
import {
  buildMcpContainerSpec,
  buildMcpSwarmSpec,
  MCP_CONTAINER_NAME,
  MCP_DATA_MOUNT,
  MCP_DEFAULT_UID,
  MCP_PORT,
  type McpServiceBody,
  type McpSpecOptions,
  ROLE_DATA_SERVICE,
  SPEC_HASH_LABEL,
} from "./spec.js";

export { buildMcpContainerSpec, MCP_CONTAINER_NAME, MCP_PORT, ROLE_DATA_SERVICE } from "./spec.js";

export interface McpServiceOptions {
  docker?: Docker;
  /** Default twilight/mcp-tushare:<project version>. */
  image?: string;
  /** Host data directory (default <repo>/ops/mcp); created 0750 when missing. */
  dataDir?: string;
  name?: string;
  network?: string;
  hostPort?: number;
  /** The service's own uid/gid (default 9100:9100); the data dir and socket dir are given to it. Never root. */
  user?: { uid: number; gid: number };
  /** Host directory for the service's unix socket (prefab profiles use it); none: TCP only. */
  socketDir?: string;
  env?: Record<string, string>;
  restart?: McpSpecOptions["restart"];
  log?: Logger;
}

export interface McpHealth {
  ok: boolean;
  httpStatus?: number;
  /** The service's own status field ("ok" | "degraded") when it answered. */
  status?: string;
  error?: string;
  /** The warehouse's first backfill: "seeding" until it completes once (then "ready"); absent from older services. */
  seeding?: McpSeeding;
  /** Trading days the newest daily bar is behind the newest due day. */
  open_days_behind?: number | null;
}

export interface McpSeeding {
  state: "seeding" | "ready";
  days_done: number;
  days_total: number | null;
  as_of: string | null;
}

export interface McpStatus {
  name: string;
  /** How it runs: a container of this engine, or a Swarm service (`mcp up --swarm`). */
  mode?: "container" | "swarm";
  exists: boolean;
  running: boolean;
  containerId?: string;
  image?: string;
  startedAt?: string;
  url: string;
  health: McpHealth | null;
}

type Inspect = Awaited<ReturnType<Docker.Container["inspect"]>>;
type SwarmService = { ID: string; Version: { Index: number }; Spec: { Labels?: Record<string, string> } };

export class McpService {
  readonly docker: Docker;
  readonly name: string;
  readonly hostPort: number;
  private readonly log: Logger;

  constructor(private readonly o: McpServiceOptions = {}) {
    this.docker = o.docker ?? dockerClient();
    this.name = o.name ?? MCP_CONTAINER_NAME;
    this.hostPort = o.hostPort ?? MCP_PORT;
    this.log = (o.log ?? createLogger("fleet")).child({ component: "mcp-service" });
  }

  get url(): string {
    return `http://127.0.0.1:${this.hostPort}`;
  }

  /**
   * Create (or re-create when changed) and start the container, then wait for /health to answer. With `swarm`, run it
   * as a Swarm service instead (spec.ts buildMcpSwarmSpec: one writer on `swarm.node`); either mode first removes the
   * other's workload, so there is never more than one process on the warehouse.
   */
  async up(opts: { waitMs?: number; swarm?: { node: string; overlay: string } } = {}): Promise<McpStatus> {
    const dataDir = this.o.dataDir ?? join(REPO_ROOT, "ops", "mcp");
    const user = this.o.user ?? { uid: MCP_DEFAULT_UID, gid: MCP_DEFAULT_UID };
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    // the service runs as its own uid: its data is its own (and closed to tenants); root-owned files from older runs move to it
    if ((await stat(dataDir)).uid !== user.uid) await lchownTree(dataDir, user.uid, user.gid);
    await chmod(dataDir, 0o700);
    if (this.o.socketDir) {
      await mkdir(this.o.socketDir, { recursive: true, mode: 0o755 });
      await lchown(this.o.socketDir, user.uid, user.gid);
      await chmod(this.o.socketDir, 0o755);
    }
    const image = this.o.image ?? imageRefs(await projectVersion()).mcp;
    let imageId: string;
    try {
      imageId = ((await this.docker.getImage(image).inspect()) as { Id: string }).Id;
    } catch (e) {
      if (isNotFound(e))
        throw new DriverError("docker", `image ${image} is not on this host`, { hint: "run `hermes-admin images build`" });
      throw engineError(`inspect image ${image}`, e);
    }
    const specOpts = {
      image,
      imageId,
      dataDir,
      name: this.name,
      network: this.o.network,
      hostPort: this.hostPort,
      user,
      socketDir: this.o.socketDir,
      env: this.o.env,
      restart: this.o.restart,
    };
    await ensureNetwork(this.docker, this.o.network ?? "twilight");
    if (opts.swarm) {
      await this.removeOwnContainer();
      await this.upService(buildMcpSwarmSpec({ ...specOpts, ...opts.swarm }), opts.swarm.overlay, opts.waitMs ?? 60_000);
      return this.waitAnswering(opts.waitMs ?? 60_000);
    }
    await this.removeService();
    const body = buildMcpContainerSpec(specOpts);
    let info = await this.inspect();
    if (info && !isDataService(info))
      throw new Conflict(`a container named ${this.name} exists and was not created by the fleet`, {
        hint: "remove or rename it by hand after checking what it is",
      });
    if (info && info.Config.Labels?.[SPEC_HASH_LABEL] !== body.Labels?.[SPEC_HASH_LABEL]) {
      this.log.info({ container: info.Id.slice(0, 12) }, "data service spec or image changed: re-creating");
      await this.removeContainer(info);
      info = undefined;
    }
    if (!info) {
      try {
        await this.docker.createContainer(body);
      } catch (e) {
        if (statusOf(e) !== 409) throw engineError(`create ${this.name}`, e);
      }
      info = await this.inspect();
      if (!info) throw new DriverError("docker", `${this.name} vanished after create`, { retryable: true });
    }
    if (!info.State.Running) {
      try {
        await this.docker.getContainer(info.Id).start();
      } catch (e) {
        if (statusOf(e) !== 304) throw engineError(`start ${this.name}`, e);
      }
    }
    return this.waitAnswering(opts.waitMs ?? 60_000);
  }

  private async waitAnswering(waitMs: number): Promise<McpStatus> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const s = await this.status();
      if (s.health?.httpStatus !== undefined) return s;
      if (!s.running)
        throw new DriverError("docker", `${this.name} exited at start`, { hint: `see its logs: docker logs ${this.name}` });
      if (Date.now() > deadline)
        throw new DriverError("docker", `${this.name} did not answer /health in time`, { retryable: true });
      await sleep(200);
    }
  }

  /**
   * `rotate-key` inside the running data service, as its own user: a new key (signing after `activateInSeconds`), the
   * old one kept for `graceSeconds`. The caller re-pins the published set into the profiles.
   */
  async rotateKey(o: { graceSeconds: number; activateInSeconds: number }) {
    const info = await this.current();
    if (!info?.State.Running || !isDataService(info))
      throw new Precondition(`${this.name} is not running`, { hint: "hermes-admin mcp up" });
    const argv = ["node", "/app/mcp/tushare/dist/cli.js", "rotate-key", "--data-dir", MCP_DATA_MOUNT];
    argv.push("--grace-seconds", String(o.graceSeconds), "--activate-in-seconds", String(o.activateInSeconds), "--json");
    const ex = await this.docker.getContainer(info.Id).exec({ Cmd: argv, AttachStdout: true, AttachStderr: true, Tty: false });
    const stream = (await ex.start({ hijack: true, stdin: false })) as unknown as Readable;
    const demux = new FrameDemuxer();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    for await (const chunk of stream)
      for (const f of demux.push(chunk as Buffer)) (f.stream === "stdout" ? out : err).push(f.payload);
    let code: number | null = null;
    for (let i = 0; i < 50 && code === null; i++) {
      code = (await ex.inspect()).ExitCode ?? null;
      if (code === null) await sleep(20);
    }
    if (code !== 0)
      throw new DriverError(
        "docker",
        `rotate-key failed in ${this.name} (exit ${code}): ${Buffer.concat(err).toString().slice(-500)}`,
      );
    const r = JSON.parse(Buffer.concat(out).toString()) as {
      new_key_id: string;
      retiring_key_id: string | null;
      signs_from: string;
      retiring_not_after: string | null;
    };
    return {
      new_key_id: r.new_key_id,
      retiring_key_id: r.retiring_key_id ?? null,
      signs_from: r.signs_from,
      retiring_not_after: r.retiring_not_after ?? null,
    };
  }

  /** Stop gracefully and remove the container; the data directory is kept. */
  async down(opts: { timeoutMs?: number } = {}): Promise<boolean> {
    if (await this.removeService()) return true;
    return this.downContainer(opts);
  }

  private async downContainer(opts: { timeoutMs?: number } = {}): Promise<boolean> {
    const info = await this.inspect();
    if (!info) return false;
    if (!isDataService(info)) throw new Conflict(`${this.name} was not created by the fleet; leaving it alone`);
    if (info.State.Running) {
      try {
        await this.docker.getContainer(info.Id).stop({ t: Math.ceil((opts.timeoutMs ?? 20_000) / 1000) });
      } catch (e) {
        if (statusOf(e) !== 304 && !isNotFound(e)) throw engineError(`stop ${this.name}`, e);
      }
    }
    await this.removeContainer(info);
    return true;
  }

  async status(): Promise<McpStatus> {
    const svc = await this.service();
    const info = await this.current();
    const base = { name: this.name, url: this.url, mode: svc ? ("swarm" as const) : ("container" as const) };
    if (!info || !isDataService(info)) return { ...base, exists: Boolean(info ?? svc), running: false, health: null };
    return {
      ...base,
      exists: true,
      running: info.State.Running,
      containerId: info.Id,
      image: info.Config.Image,
      startedAt: info.State.StartedAt,
      health: info.State.Running ? await this.health() : null,
    };
  }

  async health(): Promise<McpHealth> {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 3000);
    try {
      const r = await fetch(`${this.url}/health`, { signal: ac.signal });
      const body = (await r.json().catch(() => ({}))) as {
        status?: string;
        seeding?: McpSeeding;
        data_lag?: { open_days_behind?: number | null };
      };
      return {
        ok: r.status === 200 && body.status === "ok",
        httpStatus: r.status,
        status: body.status,
        ...(body.seeding ? { seeding: body.seeding } : {}),
        ...(body.data_lag ? { open_days_behind: body.data_lag.open_days_behind ?? null } : {}),
      };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    } finally {
      clearTimeout(t);
    }
  }

  // ---- the swarm mode ----

  /** Our data-service Swarm service, when there is one (a same-named service not ours is a Conflict). */
  private async service(): Promise<SwarmService | undefined> {
    let svc: SwarmService;
    try {
      svc = (await this.docker.getService(this.name).inspect()) as SwarmService;
    } catch (e) {
      if (isNotFound(e) || statusOf(e) === 503) return undefined; // 503: this engine is not a swarm manager
      throw engineError(`inspect service ${this.name}`, e);
    }
    const l = svc.Spec.Labels ?? {};
    if (l[LABELS.managedBy] !== MANAGED_BY || l[LABELS.role] !== ROLE_DATA_SERVICE)
      throw new Conflict(`a swarm service named ${this.name} exists and was not created by the fleet`, {
        hint: "remove or rename it by hand after checking what it is",
      });
    return svc;
  }

  /** Create or update the service, wait for its task's container here, and put it on the local bridge too. */
  private async upService(body: McpServiceBody, overlay: string, waitMs: number): Promise<void> {
    await ensureOverlay(this.docker, overlay);
    const svc = await this.service();
    try {
      if (!svc) await this.docker.createService(body as never);
      else if (svc.Spec.Labels?.[SPEC_HASH_LABEL] !== body.Labels[SPEC_HASH_LABEL]) {
        this.log.info("data service spec or image changed: updating the swarm service (stop-first)");
        await this.docker.getService(svc.ID).update({ _query: { version: svc.Version.Index }, _body: body });
      }
    } catch (e) {
      throw engineError(`create or update service ${this.name}`, e);
    }
    const deadline = Date.now() + waitMs;
    while (!(await this.taskContainer())) {
      if (Date.now() > deadline)
        throw new DriverError("swarm", `the task of ${this.name} did not start in time`, {
          retryable: true,
          hint: `see \`docker service ps --no-trunc ${this.name}\``,
        });
      await sleep(100);
    }
    await this.ensureBridge();
  }

  /**
   * Swarm mode: put the running task's container on the local bridge (`twilight`) under the service's name, where
   * container profiles reach the data service. A restarted task is a new container: the fleet calls this again.
   * Returns whether it connected one.
   */
  async ensureBridge(): Promise<boolean> {
    const c = await this.taskContainer();
    const net = this.o.network ?? "twilight";
    if (!c || c.NetworkSettings.Networks[net]) return false;
    try {
      await this.docker.getNetwork(net).connect({ Container: c.Id, EndpointConfig: { Aliases: [this.name] } });
      return true;
    } catch (e) {
      if (statusOf(e) === 403 || statusOf(e) === 409) return false; // connected meanwhile
      throw engineError(`connect ${this.name}'s task to ${net}`, e);
    }
  }

  /** The running container of our service's task on this node, if any. */
  private async taskContainer(): Promise<Inspect | undefined> {
    const list = await this.docker
      .listContainers({
        filters: {
          label: [`com.docker.swarm.service.name=${this.name}`, `${LABELS.managedBy}=${MANAGED_BY}`],
          status: ["running"],
        },
      })
      .catch((e: unknown) => {
        throw engineError(`list the containers of ${this.name}`, e);
      });
    const first = list[0];
    if (!first) return undefined;
    try {
      return await this.docker.getContainer(first.Id).inspect();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw engineError(`inspect ${this.name}'s task`, e);
    }
  }

  /** Remove our Swarm service (and wait for its container here to go); false when there was none. */
  private async removeService(): Promise<boolean> {
    const svc = await this.service();
    if (!svc) return false;
    try {
      await this.docker.getService(svc.ID).remove();
    } catch (e) {
      if (!isNotFound(e)) throw engineError(`remove service ${this.name}`, e);
    }
    for (let i = 0; i < 300; i++) {
      const left = await this.docker.listContainers({
        all: true,
        filters: { label: [`com.docker.swarm.service.name=${this.name}`] },
      });
      if (left.length === 0) break;
      await sleep(100);
    }
    return true;
  }

  /** Stop and remove our plain container (switching to the swarm mode): one process on the warehouse. */
  private async removeOwnContainer(): Promise<void> {
    const info = await this.inspect();
    if (!info) return;
    if (!isDataService(info))
      throw new Conflict(`a container named ${this.name} exists and was not created by the fleet`, {
        hint: "remove or rename it by hand after checking what it is",
      });
    await this.downContainer();
  }

  /** The data service's container now: the plain one, or the swarm task's on this node. */
  private async current(): Promise<Inspect | undefined> {
    return (await this.inspect()) ?? (await this.taskContainer());
  }

  private async inspect(): Promise<Inspect | undefined> {
    try {
      return await this.docker.getContainer(this.name).inspect();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw engineError(`inspect ${this.name}`, e);
    }
  }

  private async removeContainer(info: Inspect): Promise<void> {
    try {
      await this.docker.getContainer(info.Id).remove({ force: true });
    } catch (e) {
      if (!isNotFound(e)) throw engineError(`remove ${this.name}`, e);
    }
  }
}

function isDataService(info: Inspect): boolean {
  const l = info.Config.Labels ?? {};
  return l[LABELS.managedBy] === MANAGED_BY && l[LABELS.role] === ROLE_DATA_SERVICE;
}
