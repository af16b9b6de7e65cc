/**
 * `hermes-admin mcp up|down|status`: the data service as the container `twilight-mcp-tushare` on network `twilight`,
 * published on 127.0.0.1:9100, its data directory (host `ops/mcp` by default) bind-mounted at /data.
 * `up` is idempotent: an up-to-date running container is left alone, a changed spec or image re-creates it.
 * Only a container carrying our managed-by and role=data-service labels is ever stopped or removed.
 */
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { Conflict, createLogger, DriverError, LABELS, type Logger, MANAGED_BY } from "@twilight/core";
import type Docker from "dockerode";
import { imageRefs, projectVersion, REPO_ROOT } from "../images/builder.js";
import { dockerClient, engineError, ensureNetwork, isNotFound, sleep, statusOf } from "../runtime/docker-client.js";
import {
  buildMcpContainerSpec,
  MCP_CONTAINER_NAME,
  MCP_PORT,
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
  /** Default: the owner of dataDir. */
  user?: { uid: number; gid: number };
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
}

export interface McpStatus {
  name: string;
  exists: boolean;
  running: boolean;
  containerId?: string;
  image?: string;
  startedAt?: string;
  url: string;
  health: McpHealth | null;
}

type Inspect = Awaited<ReturnType<Docker.Container["inspect"]>>;

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

  /** Create (or re-create when changed) and start the container, then wait for /health to answer. */
  async up(opts: { waitMs?: number } = {}): Promise<McpStatus> {
    const dataDir = this.o.dataDir ?? join(REPO_ROOT, "ops", "mcp");
    await mkdir(dataDir, { recursive: true, mode: 0o750 });
    const st = await stat(dataDir);
    const image = this.o.image ?? imageRefs(await projectVersion()).mcp;
    let imageId: string;
    try {
      imageId = ((await this.docker.getImage(image).inspect()) as { Id: string }).Id;
    } catch (e) {
      if (isNotFound(e))
        throw new DriverError("docker", `image ${image} is not on this host`, { hint: "run `hermes-admin images build`" });
      throw engineError(`inspect image ${image}`, e);
    }
    const body = buildMcpContainerSpec({
      image,
      imageId,
      dataDir,
      name: this.name,
      network: this.o.network,
      hostPort: this.hostPort,
      user: this.o.user ?? { uid: st.uid, gid: st.gid },
      env: this.o.env,
      restart: this.o.restart,
    });
    await ensureNetwork(this.docker, this.o.network ?? "twilight");
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
    const deadline = Date.now() + (opts.waitMs ?? 60_000);
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

  /** Stop gracefully and remove the container; the data directory is kept. */
  async down(opts: { timeoutMs?: number } = {}): Promise<boolean> {
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
    const info = await this.inspect();
    const base = { name: this.name, url: this.url };
    if (!info || !isDataService(info)) return { ...base, exists: Boolean(info), running: false, health: null };
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
      const body = (await r.json().catch(() => ({}))) as { status?: string };
      return { ok: r.status === 200 && body.status === "ok", httpStatus: r.status, status: body.status };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    } finally {
      clearTimeout(t);
    }
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
