/**
 * `hermes-admin gateway up|down|status`: the model gateway (@twilight/gateway) as a host process run by the fleet, as
 * its own uid when the daemon is root (FLEET_GATEWAY_UID, not a tenant's), detached so it outlives a daemon restart like
 * the data-service container does. It listens on 127.0.0.1:<port> (prefab profiles) and, when Docker is there, on the
 * `twilight` network's gateway address (container profiles): `http://<that address>:<port>/v1`.
 * Its data dir (0700, the gateway's own) holds keys.json (hashes, written by the fleet), usage.db, admin-token,
 * upstream.env (the upstream URL and key: the only place they live) and gateway.pid. A process is only ever signalled
 * when the pid file's pid still has the start time recorded when we started it.
 */
import { spawn } from "node:child_process";
import { chown, mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DriverError, type Logger, Precondition } from "@twilight/core";
import type Docker from "dockerode";
import { ensureNetwork } from "../docker/client.js";
import { isSameProcessAlive, readProcStat } from "../lib/proc.js";

export interface GatewayServiceOptions {
  appDir: string;
  dataDir: string;
  logDir: string;
  port: number;
  /** The gateway's uid/gid; only used when the daemon is root. */
  uid: number;
  /**
   * Docker, to listen on the gateway address of each of `networks` (default: the containers' network, the default
   * bridge, and `twilight`, which swarm tasks join); the first is the containers' (`url_container`).
   */
  docker?: Docker;
  networks?: string[];
  /** GATEWAY_* settings passed through (limits, prices, retries, slots), LOG_LEVEL. */
  env?: NodeJS.ProcessEnv;
  log: Logger;
}

export interface GatewayStatus {
  running: boolean;
  pid?: number;
  url: string;
  url_container?: string;
  health: { ok: boolean; error?: string } | null;
  keys: number;
  upstream_configured: boolean;
}

interface PidFile {
  pid: number;
  startTime: string;
  hosts: string[];
}

/** Settings the fleet sets itself; every other GATEWAY_* of the daemon's environment is passed through. */
const OWN = new Set(["GATEWAY_HOST", "GATEWAY_PORT", "GATEWAY_DATA_DIR", "GATEWAY_SECRET_FILE"]);

/** The address containers on `network` reach the host at (its bridge gateway), or undefined. */
export async function networkGatewayAddress(docker: Docker, network = "twilight"): Promise<string | undefined> {
  await ensureNetwork(docker, network);
  const info = (await docker.getNetwork(network).inspect()) as { IPAM?: { Config?: { Gateway?: string }[] } };
  return info.IPAM?.Config?.find((c) => c.Gateway && /^\d+\.\d+\.\d+\.\d+$/.test(c.Gateway))?.Gateway;
}

export class GatewayService {
  constructor(private readonly o: GatewayServiceOptions) {}

  private get pidPath(): string {
    return join(this.o.dataDir, "gateway.pid");
  }
  private get secretPath(): string {
    return join(this.o.dataDir, "upstream.env");
  }
  private get owner(): { uid: number; gid: number } | undefined {
    return process.getuid?.() === 0 ? { uid: this.o.uid, gid: this.o.uid } : undefined;
  }
  get url(): string {
    return `http://127.0.0.1:${this.o.port}/v1`;
  }

  private async ensureDir(): Promise<void> {
    await mkdir(this.o.dataDir, { recursive: true, mode: 0o700 });
    if (this.owner) await chown(this.o.dataDir, this.owner.uid, this.owner.gid);
  }

  /** Write upstream.env (0600, the gateway's): the upstream URL and key. The gateway re-reads it: rotation without restarts. */
  async setUpstream(baseUrl: string, apiKey: string): Promise<void> {
    if (!/^https?:\/\/\S+$/.test(baseUrl)) throw new Precondition("the upstream base URL must be an http(s) URL");
    if (!/^\S+$/.test(apiKey)) throw new Precondition("the upstream API key is empty or contains whitespace");
    await this.ensureDir();
    const tmp = `${this.secretPath}.${process.pid}.tmp`;
    await writeFile(tmp, `UPSTREAM_BASE_URL=${baseUrl}\nUPSTREAM_API_KEY=${apiKey}\n`, { mode: 0o600 });
    if (this.owner) await chown(tmp, this.owner.uid, this.owner.gid);
    await rename(tmp, this.secretPath);
  }

  private async readPid(): Promise<PidFile | undefined> {
    try {
      const p = JSON.parse(await readFile(this.pidPath, "utf8")) as PidFile;
      return typeof p.pid === "number" && isSameProcessAlive(p.pid, p.startTime) ? p : undefined;
    } catch {
      return undefined;
    }
  }

  private async health(): Promise<{ ok: boolean; error?: string }> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.o.port}/health`, { signal: AbortSignal.timeout(2_000) });
      return r.ok ? { ok: true } : { ok: false, error: `HTTP ${r.status}` };
    } catch (e) {
      return { ok: false, error: (e as Error).message };
    }
  }

  private async containerHosts(): Promise<string[]> {
    const docker = this.o.docker;
    if (!docker) return [];
    const found = await Promise.all(
      (this.o.networks ?? ["bridge", "twilight"]).map((n) =>
        networkGatewayAddress(docker, n).catch((e: Error) => {
          this.o.log.warn({ err: e.message, network: n }, "gateway: no address on this network; its containers cannot reach it");
          return undefined;
        }),
      ),
    );
    return [...new Set(found.filter((h): h is string => Boolean(h)))];
  }

  /** Start the gateway unless it runs already; waits for /health. */
  async up(o: { upstream?: { baseUrl: string; apiKey: string }; waitMs?: number } = {}): Promise<GatewayStatus> {
    await this.ensureDir();
    if (o.upstream) await this.setUpstream(o.upstream.baseUrl, o.upstream.apiKey);
    if (!(await stat(this.secretPath).catch(() => undefined)))
      throw new Precondition("the model gateway has no upstream configured", {
        hint: "hermes-admin gateway up --upstream-env FILE (FILE has UPSTREAM_BASE_URL=... and UPSTREAM_API_KEY=...)",
      });
    const hosts = ["127.0.0.1", ...(await this.containerHosts())];
    const running = await this.readPid();
    // one started before the containers' network changed does not listen where they look: started again
    if (running && hosts.every((h) => running.hosts.includes(h))) return this.status();
    if (running) await this.down();
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, NODE_ENV: process.env.NODE_ENV };
    for (const [k, v] of Object.entries(this.o.env ?? {}))
      if ((k.startsWith("GATEWAY_") && !OWN.has(k)) || k === "LOG_LEVEL") env[k] = v;
    Object.assign(env, {
      GATEWAY_DATA_DIR: this.o.dataDir,
      GATEWAY_HOST: hosts.join(","),
      GATEWAY_PORT: String(this.o.port),
    });
    await mkdir(this.o.logDir, { recursive: true, mode: 0o700 });
    const logFile = await open(join(this.o.logDir, "gateway.log"), "a", 0o600);
    try {
      const child = spawn(process.execPath, [join(this.o.appDir, "gateway", "dist", "main.js"), "serve"], {
        detached: true,
        stdio: ["ignore", logFile.fd, logFile.fd],
        env,
        cwd: this.o.dataDir,
        ...(this.owner ?? {}),
      });
      const pid = child.pid;
      if (pid === undefined) throw new DriverError("process", "the model gateway did not start");
      child.unref();
      const startTime = readProcStat(pid)?.startTime ?? "";
      await writeFile(this.pidPath, `${JSON.stringify({ pid, startTime, hosts } satisfies PidFile)}\n`, { mode: 0o600 });
      const deadline = Date.now() + (o.waitMs ?? 20_000);
      while (Date.now() < deadline) {
        if (!isSameProcessAlive(pid, startTime)) break;
        if ((await this.health()).ok) return this.status();
        await sleep(100);
      }
    } finally {
      await logFile.close();
    }
    const tail = (await readFile(join(this.o.logDir, "gateway.log"), "utf8").catch(() => "")).slice(-800);
    throw new DriverError("process", `the model gateway did not become healthy on 127.0.0.1:${this.o.port}`, {
      hint: `its log ends: ${tail}`,
    });
  }

  /** Stop it (SIGTERM, then SIGKILL after 5 s); true when something was stopped. */
  async down(): Promise<boolean> {
    const p = await this.readPid();
    await rm(this.pidPath, { force: true });
    if (!p) return false;
    process.kill(p.pid, "SIGTERM");
    for (let i = 0; i < 50 && isSameProcessAlive(p.pid, p.startTime); i++) await sleep(100);
    if (isSameProcessAlive(p.pid, p.startTime)) process.kill(p.pid, "SIGKILL");
    return true;
  }

  async status(): Promise<GatewayStatus> {
    const p = await this.readPid();
    let keys = 0;
    try {
      keys = Object.keys((JSON.parse(await readFile(join(this.o.dataDir, "keys.json"), "utf8")) as { keys: object }).keys).length;
    } catch {
      keys = 0;
    }
    const container = p?.hosts.find((h) => h !== "127.0.0.1");
    return {
      running: Boolean(p),
      ...(p ? { pid: p.pid } : {}),
      url: this.url,
      ...(container ? { url_container: `http://${container}:${this.o.port}/v1` } : {}),
      health: p ? await this.health() : null,
      keys,
      upstream_configured: Boolean(await stat(this.secretPath).catch(() => undefined)),
    };
  }

  /** Usage per profile per day from the running gateway (its admin endpoint, with the token in its data dir). */
  async usage(q: { profile?: string; since?: string }): Promise<unknown[]> {
    const token = (await readFile(join(this.o.dataDir, "admin-token"), "utf8").catch(() => "")).trim();
    if (!token || !(await this.readPid()))
      throw new Precondition("the model gateway is not running", { hint: "hermes-admin gateway up" });
    const u = new URL(`http://127.0.0.1:${this.o.port}/admin/usage`);
    if (q.profile) u.searchParams.set("profile", q.profile);
    if (q.since) u.searchParams.set("since", q.since);
    const r = await fetch(u, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(10_000) });
    if (!r.ok) throw new DriverError("process", `the model gateway answered ${r.status} to a usage query`);
    return ((await r.json()) as { usage: unknown[] }).usage;
  }
}
