/**
 * Daemon verbs: serve (foreground); up (the whole platform: Docker Engine check, the fleet daemon, the images, the data
 * service, each waited for; idempotent; `--fleet-only` for the daemon alone); down (SIGTERM; profiles keep running;
 * `--all` also stops the data service).
 */
import { spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { DriverError, Unavailable } from "@twilight/core/errors";
import type { Command } from "commander";
import { FleetClient } from "../client/client.js";
import type { FleetConfig } from "../config.js";
import { type DaemonPidFile, readPidFile } from "../lib/daemon-files.js";
import { pingDocker } from "../lib/docker-ping.js";
import { progressPrinter } from "../lib/format.js";
import { isSameProcessAlive } from "../lib/proc.js";
import { ROUTES } from "./lazy.js";
import { describeDataService } from "./platform-commands.js";
import { action, type GlobalOpts, printJson } from "./run.js";

function daemonPid(cfg: FleetConfig): DaemonPidFile | undefined {
  const o = readPidFile(cfg.pidFile);
  return o && isSameProcessAlive(o.pid) ? o : undefined;
}

/** The daemon's /v1/health answer, or undefined when it does not answer. */
async function daemonHealth(url: string): Promise<{ containers?: boolean } | undefined> {
  try {
    const r = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(1000) });
    if (!r.ok) return undefined;
    return (await r.json()) as { containers?: boolean };
  } catch {
    return undefined;
  }
}

async function stopDaemon(p: DaemonPidFile): Promise<void> {
  process.kill(p.pid, "SIGTERM");
  for (let i = 0; i < 100 && isSameProcessAlive(p.pid); i++) await sleep(100);
  if (isSameProcessAlive(p.pid)) throw new Unavailable(`daemon pid ${p.pid} did not exit in 10 s`, { hint: `kill -9 ${p.pid}` });
}

type Say = (line: string) => void;

/** Start the daemon in the background unless one answers; returns what runs. */
async function ensureDaemon(c: FleetConfig, entry: string, timeoutMs: number, restartWithoutDocker: boolean, say: Say) {
  const running = daemonPid(c);
  const health = running ? await daemonHealth(running.url) : undefined;
  if (running && health) {
    if (!(restartWithoutDocker && health.containers === false))
      return { status: "already running" as const, ...running, log: join(c.logDir, "fleet.log") };
    say(`fleet daemon pid ${running.pid} runs without Docker (started while dockerd was down): restarting it`);
    await stopDaemon(running);
  }
  mkdirSync(c.logDir, { recursive: true });
  const logFile = join(c.logDir, "fleet.log");
  const fd = openSync(logFile, "a", 0o600);
  const child = spawn(process.execPath, [entry, "serve"], { detached: true, stdio: ["ignore", fd, fd], env: process.env });
  child.unref();
  say(`starting the fleet daemon (pid ${child.pid}, log ${logFile})`);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const p = daemonPid(c);
    if (p && p.pid === child.pid && (await daemonHealth(p.url))) return { status: "started" as const, ...p, log: logFile };
    if (!isSameProcessAlive(child.pid as number)) break;
    await sleep(200);
  }
  throw new Unavailable("the fleet daemon did not become ready", { hint: `read ${logFile}` });
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
    .description(
      "bring the platform up, each part waited for: Docker Engine check, fleet daemon, images (built if missing or stale), data service, model gateway when it has an upstream (idempotent)",
    )
    .option("--fleet-only", "start only the fleet daemon (no Docker needed; prefab profiles only)")
    .option("--timeout <ms>", "how long to wait for the daemon", "30000")
    .option("--wait-seeded <seconds>", "how long to wait for the data service's first backfill", "120")
    .addHelpText(
      "after",
      "\nExamples:\n  hermes-admin up && hermes-admin spawn test-basic-1 --tier prefab\n  hermes-admin up --fleet-only     # the daemon alone\n  hermes-admin up --json           # {docker, daemon, images, data_service, gateway}",
    )
    .action(
      action(async (o: { fleetOnly?: boolean; timeout: string; waitSeeded: string }, cmd: Command) => {
        const c = cfg();
        const json = Boolean(cmd.optsWithGlobals<GlobalOpts>().json);
        const say: Say = (l) => process.stderr.write(`${l}\n`);
        const steps = o.fleetOnly ? 1 : 5;
        let n = 0;
        const step = (what: string) => say(`[${++n}/${steps}] ${what}`);
        const out: Record<string, unknown> = {};

        if (!o.fleetOnly) {
          step("Docker Engine");
          const d = await pingDocker();
          out.docker = d;
          if (!d.ok)
            throw new DriverError("docker", `Docker Engine is not answering at ${d.endpoint} (${d.error ?? "no answer"})`, {
              hint:
                "start it (`systemctl start docker`, or `bash -c 'source scripts/lib/common.sh; ensure_docker'`) and run " +
                "`hermes-admin up` again; `hermes-admin up --fleet-only` starts the daemon without it (prefab profiles only)",
            });
          say(`  Docker Engine ${d.version} at ${d.endpoint}`);
        }

        step("fleet daemon");
        const daemon = await ensureDaemon(c, entry, Number(o.timeout), !o.fleetOnly, say);
        out.daemon = daemon;
        say(`  fleet daemon ${daemon.status} (pid ${daemon.pid}, ${daemon.url}, dashboard ${daemon.url}/ui/)`);
        if (o.fleetOnly) {
          if (json) printJson(out);
          return undefined;
        }

        const client = FleetClient.fromConfig(c);
        step("images (a no-op when current)");
        const images = await client.op(ROUTES.buildImages, { body: {} }, progressPrinter());
        out.images = images.images.map((i) => ({ kind: i.kind, ref: i.ref, built: !i.skipped }));
        say(`  images ${images.images.every((i) => i.skipped) ? "current" : "built"} in ${images.seconds.toFixed(1)} s`);

        step("data service");
        const mcp = await client.op(
          ROUTES.mcpUp,
          { body: { wait_seeded_ms: Math.round(Number(o.waitSeeded) * 1000) } },
          progressPrinter(),
        );
        out.data_service = mcp;
        say(`  ${describeDataService(mcp)}`);
        if (!mcp.health?.httpStatus)
          throw new Unavailable(`the data service ${mcp.name} does not answer`, {
            hint: `docker logs ${mcp.name} --tail 50; hermes-admin doctor`,
          });

        step("model gateway");
        // started when it has an upstream (profiles on a custom model need it); never configured here: that takes a key
        let gateway = await client.call(ROUTES.gatewayStatus, {});
        if (gateway.upstream_configured) {
          if (!gateway.running) gateway = await client.op(ROUTES.gatewayUp, { body: {} }, progressPrinter());
          if (!gateway.health?.ok)
            throw new Unavailable(
              `the model gateway does not answer${gateway.health?.error ? ` (${gateway.health.error})` : ""}`,
              {
                hint: "hermes-admin gateway status; hermes-admin doctor",
              },
            );
          say(`  model gateway running at ${gateway.url} (${gateway.keys} keys)`);
        } else
          say(
            "  model gateway: no upstream configured, not started (profiles on the offline model do not need it; " +
              "hermes-admin gateway up --upstream-env FILE when they do)",
          );
        out.gateway = gateway;
        if (json) printJson(out);
        else
          process.stdout.write(
            `platform up: fleet daemon at ${daemon.url} (dashboard ${daemon.url}/ui/); data service at ${mcp.url}` +
              `${mcp.health.seeding?.state === "seeding" ? " (still seeding)" : ""}` +
              `${gateway.running ? `; model gateway at ${gateway.url}` : ""}\n`,
          );
        return undefined;
      }),
    );

  program
    .command("down")
    .description("stop the fleet daemon; profiles keep running and are re-adopted by the next `up`")
    .option("--all", "also stop the platform services (the data service, the model gateway); their data is kept")
    .addHelpText("after", "\nExamples:\n  hermes-admin down\n  hermes-admin down --all")
    .action(
      action(async (o: { all?: boolean }, cmd: Command) => {
        const c = cfg();
        const json = cmd.optsWithGlobals<GlobalOpts>().json;
        const p = daemonPid(c);
        let mcpStopped: boolean | undefined;
        let gatewayStopped: boolean | undefined;
        if (o.all) {
          if (!p)
            throw new Unavailable("the data service is stopped through the fleet daemon, which is not running", {
              hint: "hermes-admin up --fleet-only && hermes-admin down --all",
            });
          const fc = FleetClient.fromConfig(c);
          mcpStopped = (await fc.call(ROUTES.mcpDown, {})).stopped;
          if (!json) process.stdout.write(mcpStopped ? "data service stopped\n" : "data service was not running\n");
          gatewayStopped = (await fc.call(ROUTES.gatewayDown, {})).stopped;
          if (!json) process.stdout.write(gatewayStopped ? "model gateway stopped\n" : "model gateway was not running\n");
        }
        if (!p) {
          if (json) printJson({ status: "not running" });
          else process.stdout.write("fleet daemon is not running\n");
          return undefined;
        }
        await stopDaemon(p);
        if (json)
          printJson({
            status: "stopped",
            pid: p.pid,
            ...(mcpStopped === undefined ? {} : { data_service_stopped: mcpStopped, gateway_stopped: gatewayStopped }),
          });
        else process.stdout.write(`fleet daemon stopped (pid ${p.pid}); profiles keep running\n`);
        return undefined;
      }),
    );
}
