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
import {
  buildMcpContainerSpec,
  MCP_CONTAINER_NAME,
  MCP_DATA_MOUNT,
  MCP_DEFAULT_UID,
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
    const body = buildMcpContainerSpec({
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

  /**
   * `rotate-key` inside the running data service, as its own user: a new key (signing after `activateInSeconds`), the
   * old one kept for `graceSeconds`. The caller re-pins the published set into the profiles.
   */
  async rotateKey(o: { graceSeconds: number; activateInSeconds: number }) {
    const info = await this.inspect();
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
