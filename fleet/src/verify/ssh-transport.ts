/**
 * Billing's SSH transport for the verify row, on this machine: Debian's sshd on loopback with its own config, host key
 * and authorized_keys (the line `hermes-admin ssh authorize` prints: the deploy key runs `provision --stdin` and nothing
 * else), started for the check and stopped by pid. Everything lives in ops/verify/sshd (0700).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "@twilight/core";

export const SSHD = "/usr/sbin/sshd";

export interface SshEndpoint {
  env: Record<string, string>;
  stop(): void;
}

async function listening(port: number): Promise<boolean> {
  return await new Promise<boolean>((r) => {
    const s = createServer();
    s.once("error", () => r(true));
    s.listen(port, "127.0.0.1", () => s.close(() => r(false)));
  });
}

/** Pure: the sshd configuration of the verify endpoint. */
export function sshdConfig(dir: string, port: number): string {
  return `${[
    `Port ${port}`,
    "ListenAddress 127.0.0.1",
    `HostKey ${join(dir, "host_key")}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "PermitRootLogin prohibit-password",
    "StrictModes no",
    "UsePAM no",
    `PidFile ${join(dir, "sshd.pid")}`,
  ].join("\n")}\n`;
}

/** Start sshd with a deploy key authorised for the forced provisioning command; the FLEET_SSH_* env billing needs. */
export async function startSshEndpoint(o: { opsDir: string; cliEntry: string }): Promise<SshEndpoint> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install openssh-server`);
  const dir = join(o.opsDir, "verify", "sshd");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  for (const k of ["host_key", "deploy"])
    if (!existsSync(join(dir, k))) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", k, "-f", join(dir, k)]);
  const line = execFileSync(process.execPath, [o.cliEntry, "ssh", "authorize", `@${join(dir, "deploy.pub")}`], {
    env: { ...process.env, TWILIGHT_OPS_DIR: o.opsDir },
    encoding: "utf8",
  });
  writeFileSync(join(dir, "authorized_keys"), line, { mode: 0o600 });
  const port = await freePort();
  writeFileSync(join(dir, "sshd_config"), sshdConfig(dir, port), { mode: 0o600 });
  const sshd: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: "ignore" });
  const stop = () => {
    if (sshd.pid && sshd.exitCode === null) process.kill(sshd.pid, "SIGTERM");
  };
  for (let i = 0; i < 100 && !(await listening(port)); i++) await sleep(50);
  if (!(await listening(port))) {
    stop();
    throw new Error(`sshd did not listen on 127.0.0.1:${port} (config ${join(dir, "sshd_config")})`);
  }
  const fp = execFileSync("ssh-keygen", ["-lf", join(dir, "host_key.pub")], { encoding: "utf8" }).split(" ")[1] ?? "";
  return {
    env: {
      FLEET_TRANSPORT: "ssh",
      FLEET_SSH_HOST: "127.0.0.1",
      FLEET_SSH_PORT: String(port),
      FLEET_SSH_USER: "root",
      FLEET_SSH_KEY_FILE: join(dir, "deploy"),
      FLEET_SSH_HOST_KEY_SHA256: fp,
    },
    stop,
  };
}
