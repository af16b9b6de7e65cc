/** Daemon verbs: serve (foreground), up (background, waits until ready), down (SIGTERM; profiles keep running). */
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Unavailable } from "@twilight/core";
import type { Command } from "commander";
import type { FleetConfig } from "../config.js";
import { isSameProcessAlive } from "../runtime/proc.js";
import { action, type GlobalOpts, printJson } from "./run.js";

function daemonPid(cfg: FleetConfig): { pid: number; url: string } | undefined {
  try {
    const o = JSON.parse(readFileSync(cfg.pidFile, "utf8")) as { pid: number; url: string };
    return isSameProcessAlive(o.pid) ? o : undefined;
  } catch {
    return undefined;
  }
}

async function healthy(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(1000) });
    return r.ok;
  } catch {
    return false;
  }
}

export function daemonCommands(program: Command, cfg: () => FleetConfig, entry: string, serve: () => Promise<void>): void {
  program
    .command("serve")
    .description("run the fleet daemon in the foreground (supervisor, admin API, front door)")
    .action(
      action(async () => {
        await serve();
        return undefined;
      }),
    );

  program
    .command("up")
    .description("start the fleet daemon in the background (idempotent) and wait until it answers")
    .option("--timeout <ms>", "how long to wait", "30000")
    .addHelpText("after", "\nExample:\n  hermes-admin up && hermes-admin list")
    .action(
      action(async (o: { timeout: string }, cmd: Command) => {
        const c = cfg();
        const json = cmd.optsWithGlobals<GlobalOpts>().json;
        const running = daemonPid(c);
        if (running && (await healthy(running.url))) {
          if (json) printJson({ status: "already running", ...running });
          else process.stdout.write(`fleet daemon already running (pid ${running.pid}, ${running.url})\n`);
          return undefined;
        }
        mkdirSync(join(c.logDir), { recursive: true });
        const logFile = join(c.logDir, "fleet.log");
        const fd = openSync(logFile, "a", 0o600);
        const child = spawn(process.execPath, [entry, "serve"], { detached: true, stdio: ["ignore", fd, fd], env: process.env });
        child.unref();
        const deadline = Date.now() + Number(o.timeout);
        if (!json) process.stderr.write(`starting fleet daemon (pid ${child.pid}, log ${logFile})`);
        while (Date.now() < deadline) {
          const p = daemonPid(c);
          if (p && p.pid === child.pid && (await healthy(p.url))) {
            if (json) printJson({ status: "started", ...p, log: logFile });
            else process.stderr.write(`\nfleet daemon ready at ${p.url}\n`);
            return undefined;
          }
          if (!isSameProcessAlive(child.pid as number)) break;
          if (!json) process.stderr.write(".");
          await sleep(200);
        }
        throw new Unavailable(`the fleet daemon did not become ready`, { hint: `read ${logFile}` });
      }),
    );

  program
    .command("down")
    .description("stop the fleet daemon; profiles keep running and are re-adopted by the next `up`")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const c = cfg();
        const json = cmd.optsWithGlobals<GlobalOpts>().json;
        const p = daemonPid(c);
        if (!p) {
          if (json) printJson({ status: "not running" });
          else process.stdout.write("fleet daemon is not running\n");
          return undefined;
        }
        process.kill(p.pid, "SIGTERM");
        for (let i = 0; i < 100 && isSameProcessAlive(p.pid); i++) await sleep(100);
        if (isSameProcessAlive(p.pid))
          throw new Unavailable(`daemon pid ${p.pid} did not exit in 10 s`, { hint: `kill -9 ${p.pid}` });
        if (json) printJson({ status: "stopped", pid: p.pid });
        else process.stdout.write(`fleet daemon stopped (pid ${p.pid}); profiles keep running\n`);
        return undefined;
      }),
    );
}
