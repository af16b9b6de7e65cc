/**
 * Test harness that drives the fleet like an operator: a real daemon process with its own ops directory, and the real
 * `hermes-admin` CLI. Cleans up by pid: the daemon it started and the profile processes recorded under its ops dir.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { APP_DIR } from "../config.js";
import { readPidFile } from "../lib/daemon-files.js";
import { isSameProcessAlive } from "../lib/proc.js";

/** The installed `hermes-admin` (the package bin shim), exactly what `npx hermes-admin` runs. */
export const CLI = join(APP_DIR, "fleet", "bin", "hermes-admin.js");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface FleetHarness {
  ops: string;
  env: NodeJS.ProcessEnv;
  daemon?: ChildProcess;
  url: string;
  cli(args: string[], extraEnv?: NodeJS.ProcessEnv): CliResult;
  cliJson<T>(args: string[]): T;
  /** Like cli, without blocking the event loop (for tests that drive load while a command runs). */
  cliAsync(args: string[]): Promise<CliResult>;
  startDaemon(): Promise<void>;
  /** The daemon's GET /v1/health (role, sandbox, the warm pool's state). */
  daemonHealth(): Promise<{ pool?: { ready: number; served: number; missed: number } }>;
  killDaemon(signal?: NodeJS.Signals): Promise<void>;
  /** Every CLI call's arguments and output (stdout + stderr), for leak checks. */
  outputs: Array<{ args: string[]; text: string }>;
  /** Pids of profile processes whose HERMES_HOME is under this harness' ops dir. */
  profilePids(): Promise<Map<string, number[]>>;
  cleanup(): Promise<void>;
}

export async function fleetHarness(extraEnv: Record<string, string> = {}): Promise<FleetHarness> {
  const ops = mkdtempSync("/var/tmp/twl-fleet-");
  chmodSync(ops, 0o755); // profile uids must traverse it to reach their own directory
  const uidBase = 30000 + Math.floor(Math.random() * 300) * 100;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    TWILIGHT_OPS_DIR: ops,
    FLEET_API_PORT: "0",
    FLEET_UID_RANGE: `${uidBase}-${uidBase + 99}`,
    FLEET_PORT_RANGE: "19000-19999",
    FLEET_MCP_URL_PREFAB: "http://127.0.0.1:9/mcp",
    LOG_LEVEL: "info",
    FLEET_POOL_SIZE: "0", // the warm pool is opted into by its tests (pool.int, isolation.int)
    FLEET_BACKUP_SCHEDULE: "off", // a scheduled backup would take profile locks in the middle of a test
    ...extraEnv,
  };
  const outputs: Array<{ args: string[]; text: string }> = [];
  const h: FleetHarness = {
    ops,
    env,
    url: "",
    outputs,
    cli(args, more = {}) {
      const r = spawnSync(process.execPath, [CLI, ...args], { env: { ...env, ...more }, encoding: "utf8", timeout: 120_000 });
      outputs.push({ args, text: `${r.stdout}\n${r.stderr}` });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    },
    cliJson<T>(args: string[]): T {
      const r = h.cli([...args, "--json"]);
      if (r.code !== 0) throw new Error(`hermes-admin ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
      return JSON.parse(r.stdout) as T;
    },
    cliAsync(args) {
      return new Promise<CliResult>((resolve) => {
        const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout?.on("data", (b: Buffer) => {
          stdout += b.toString();
        });
        child.stderr?.on("data", (b: Buffer) => {
          stderr += b.toString();
        });
        child.on("close", (code) => {
          outputs.push({ args, text: `${stdout}\n${stderr}` });
          resolve({ code: code ?? -1, stdout, stderr });
        });
      });
    },
    async startDaemon() {
      const child = spawn(process.execPath, [CLI, "serve"], { env, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      child.stderr?.on("data", (b: Buffer) => {
        err += b.toString();
      });
      h.daemon = child;
      for (let i = 0; i < 300; i++) {
        const o = readPidFile(env.FLEET_PID_FILE ?? join(ops, "fleet.pid"));
        if (o && o.pid === child.pid) {
          h.url = o.url;
          return;
        }
        if (child.exitCode !== null) throw new Error(`daemon exited: ${err}`);
        await sleep(50);
      }
      throw new Error(`daemon did not start: ${err}`);
    },
    async daemonHealth() {
      return (await (await fetch(`${h.url}/v1/health`)).json()) as { pool?: { ready: number; served: number; missed: number } };
    },
    async killDaemon(signal = "SIGKILL") {
      const d = h.daemon;
      if (!d?.pid) return;
      d.kill(signal);
      for (let i = 0; i < 200 && isSameProcessAlive(d.pid); i++) await sleep(25);
      h.daemon = undefined;
    },
    async profilePids() {
      const out = new Map<string, number[]>();
      for (const ent of await readdir("/proc")) {
        if (!/^\d+$/.test(ent)) continue;
        const env = await readFile(`/proc/${ent}/environ`, "utf8").catch(() => "");
        const home = /(?:^|\0)HERMES_HOME=([^\0]*)/.exec(env)?.[1];
        const name = /(?:^|\0)HERMES_PROFILE=([^\0]*)/.exec(env)?.[1];
        if (!home?.startsWith(`${ops}/`) || !name) continue;
        const stat = await readFile(`/proc/${ent}/stat`, "utf8").catch(() => "");
        if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
        out.set(name, [...(out.get(name) ?? []), Number(ent)]);
      }
      return out;
    },
    async cleanup() {
      // Remove every profile through the daemon first, so containers go through the driver (by our labels).
      if (h.daemon) {
        const r = h.cli(["list", "--no-stats", "--json"]);
        const names =
          r.code === 0 ? (JSON.parse(r.stdout) as { profiles: Array<{ name: string }> }).profiles.map((p) => p.name) : [];
        await Promise.all(names.map((n) => h.cliAsync(["rm", n, "--force"])));
      }
      await h.killDaemon("SIGKILL");
      // every process started under this ops dir: profiles, and the warm pool's runtimes (no profile name yet), which a
      // SIGKILLed daemon cannot stop
      for (const pids of [...(await h.profilePids()).values(), await pooledPids(ops)])
        for (const pid of pids) {
          try {
            process.kill(-pid, "SIGKILL");
          } catch {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              /* gone */
            }
          }
        }
      rmSync(ops, { recursive: true, force: true });
    },
  };
  return h;
}

/** Poll `fn` until it returns a truthy value or the deadline passes (bounded loop). */
/** The warm pool's runtimes started for the fleet at `ops`, assigned or not (their environment is the pool's). */
export async function pooledPids(ops: string): Promise<number[]> {
  const out: number[] = [];
  for (const ent of await readdir("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    const env = await readFile(`/proc/${ent}/environ`, "utf8").catch(() => "");
    const home = /(?:^|\0)HERMES_HOME=([^\0]*)/.exec(env)?.[1];
    if (/(?:^|\0)TWILIGHT_POOLED=1(?:\0|$)/.test(env) && home?.startsWith(`${ops}/`)) out.push(Number(ent));
  }
  return out;
}

export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}
