/** Files the daemon leaves for its clients under ops/: the admin token (0600, created on first start) and the pid file. */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Unauthorized } from "@twilight/core/errors";

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
