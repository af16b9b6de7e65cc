/** Files the daemon leaves for its clients under ops/: the admin token (0600, created on first start) and the pid file. */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Unauthorized } from "@twilight/core/errors";
import { APP_DIR } from "./app-dir.js";

/**
 * Where the ops directory, the pid file and the admin token are, from the environment alone: the fleet's config takes
 * them from here (one rule), and the CLI reads them before its config and contract (zod) are loaded, to send a read
 * while they load (client/prefetch.ts). `undefined` for a value the config would refuse (it says why).
 */
export function daemonFilePaths(
  env: { TWILIGHT_OPS_DIR?: string | undefined; FLEET_PID_FILE?: string | undefined } = process.env,
): { opsDir: string; pidFile: string; adminTokenFile: string } | undefined {
  if (env.FLEET_PID_FILE === "") return undefined;
  const opsDir = resolve(env.TWILIGHT_OPS_DIR ?? join(APP_DIR, "ops"));
  return {
    opsDir,
    pidFile: resolve(env.FLEET_PID_FILE ?? join(opsDir, "fleet.pid")),
    adminTokenFile: join(opsDir, "admin-token"),
  };
}

export function ensureAdminToken(file: string): string {
  try {
    const t = readFileSync(file, "utf8").trim();
    if (t.length >= 32) return t;
  } catch {
    /* create below */
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const token = `fa_${randomBytes(32).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "w" });
  return token;
}

/** The running daemon's address (its pid file) and its admin token file, from the environment alone; none running: undefined. */
export function runningDaemon(env: NodeJS.ProcessEnv = process.env): { url: string; adminTokenFile: string } | undefined {
  const files = daemonFilePaths(env);
  const url = files && readPidFile(files.pidFile)?.url;
  return files && url ? { url, adminTokenFile: files.adminTokenFile } : undefined;
}

export function readAdminToken(file: string): string {
  try {
    const st = statSync(file);
    if ((st.mode & 0o077) !== 0)
      throw new Unauthorized(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)})`, `chmod 600 ${file}`);
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    if (e instanceof Unauthorized) throw e;
    throw new Unauthorized(
      `cannot read the admin token at ${file}`,
      "start the daemon first (hermes-admin up) and run as the same user",
    );
  }
}

/** The daemon's pid file (`ops/fleet.pid`): `{pid, url}` as one JSON line, 0600. The one place that knows its format. */
export interface DaemonPidFile {
  pid: number;
  url: string;
}

export function writePidFile(file: string, info: DaemonPidFile): void {
  writeFileSync(file, `${JSON.stringify(info)}\n`, { mode: 0o600 });
}

export function readPidFile(file: string): DaemonPidFile | undefined {
  try {
    const o = JSON.parse(readFileSync(file, "utf8")) as Partial<DaemonPidFile>;
    return typeof o.pid === "number" && typeof o.url === "string" ? { pid: o.pid, url: o.url } : undefined;
  } catch {
    return undefined;
  }
}

export function removePidFile(file: string): void {
  rmSync(file, { force: true });
}
