/**
 * `hermes-admin doctor [--json]`: one report of what an operator checks when something is wrong. Host-side rows are
 * gathered here (they must work with the daemon or dockerd down); the daemon adds its rows through GET /v1/doctor.
 * Each row is PASS / WARN / FAIL with why and the command that fixes it; exit 8 when any row fails.
 */
import { statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { FleetClient } from "../client/client.js";
import type { FleetConfig } from "../config.js";
import { readPidFile } from "../lib/daemon-files.js";
import { pingDocker } from "../lib/docker-ping.js";
import {
  type Check,
  checkDaemon,
  checkDisk,
  checkDockerd,
  checkOpsDir,
  checkSecretFile,
  summarize,
} from "../lib/doctor-checks.js";
import { isSameProcessAlive } from "../lib/proc.js";
import { EXIT } from "./exit-codes.js";
import { ROUTES } from "./lazy.js";
import { action, type GlobalOpts, printJson } from "./run.js";

const modeOf = (path: string) => {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
};

async function daemonAnswers(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(2000) });
    await r.arrayBuffer();
    return r.ok;
  } catch {
    return false;
  }
}

/** The host-side rows; `daemonUp` tells the caller whether to ask the daemon for its rows. */
export async function hostChecks(cfg: FleetConfig): Promise<{ checks: Check[]; daemonUp: boolean }> {
  const checks: Check[] = [];
  const pid = readPidFile(cfg.pidFile);
  const alive = pid && isSameProcessAlive(pid.pid) ? pid : undefined;
  const daemonUp = alive ? await daemonAnswers(alive.url) : false;
  checks.push(checkDaemon({ pidFile: cfg.pidFile, pid: alive?.pid, url: alive?.url, healthy: daemonUp }));
  checks.push(checkDockerd(await pingDocker()));
  const ops = modeOf(cfg.opsDir);
  checks.push(checkOpsDir(cfg.opsDir, ops?.mode, ops?.uid, process.getuid?.()));
  checks.push(checkSecretFile("admin-token", cfg.adminTokenFile, modeOf(cfg.adminTokenFile)?.mode, true));
  const keys = join(cfg.opsDir, "provision-keys.json");
  checks.push(checkSecretFile("provision-keys", keys, modeOf(keys)?.mode, false));
  try {
    const s = statfsSync(ops ? cfg.opsDir : "/");
    checks.push(
      checkDisk({
        path: ops ? cfg.opsDir : "/",
        freeBytes: s.bavail * s.bsize,
        totalBytes: s.blocks * s.bsize,
        freeInodes: s.ffree,
        totalInodes: s.files,
      }),
    );
  } catch (e) {
    checks.push({ id: "disk", status: "warn", what: `statfs ${cfg.opsDir}: ${(e as Error).message}` });
  }
  return { checks, daemonUp };
}

export async function runDoctor(cfg: FleetConfig, client: () => FleetClient): Promise<Check[]> {
  const { checks, daemonUp } = await hostChecks(cfg);
  if (!daemonUp) return checks;
  try {
    checks.push(...(await client().call(ROUTES.doctor, {})).checks);
  } catch (e) {
    const err = e as { message?: string; hint?: string };
    checks.push({
      id: "daemon-checks",
      status: "fail",
      what: "the daemon's checks (registry, rows, orphans, data service, images) could not be asked for",
      why: err.message ?? String(e),
      fix: err.hint ?? "fix the rows above first (admin token, daemon), then run doctor again",
    });
  }
  return checks;
}

const LABEL = { pass: "PASS", warn: "WARN", fail: "FAIL" } as const;

export function renderDoctor(checks: readonly Check[]): string {
  const w = Math.max(...checks.map((c) => c.id.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${LABEL[c.status]}  ${c.id.padEnd(w)}  ${c.what}`);
    if (c.status !== "pass") {
      if (c.why) lines.push(`${" ".repeat(w + 8)}why: ${c.why}`);
      if (c.fix) lines.push(`${" ".repeat(w + 8)}fix: ${c.fix}`);
    }
  }
  const s = summarize(checks);
  lines.push("", `${s.pass} pass, ${s.warn} warn, ${s.fail} fail${s.ok ? "" : " (exit 8)"}`);
  return `${lines.join("\n")}\n`;
}

export function doctorCommand(program: Command, cfg: () => FleetConfig, client: () => FleetClient): void {
  program
    .command("doctor")
    .description("check everything an operator checks when something is wrong; each FAIL says why and what fixes it")
    .addHelpText(
      "after",
      "\nChecks: fleet daemon, Docker Engine (socket and the daemon's connection), ops/ mode, admin token and provisioning\n" +
        "keys modes, disk and inodes, cgroups, registry integrity, rows stuck in a transient state, crash loops, port range,\n" +
        "orphaned processes and containers, images, data service health and seeding.\n\n" +
        "Examples:\n  hermes-admin doctor\n  hermes-admin doctor --json | jq '.checks[] | select(.status != \"pass\")'\n\n" +
        "Exit code: 0 when nothing fails (warnings allowed), 8 when a check fails.",
    )
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const checks = await runDoctor(cfg(), client);
        const s = summarize(checks);
        if (cmd.optsWithGlobals<GlobalOpts>().json) printJson({ ok: s.ok, summary: s, checks });
        else process.stdout.write(renderDoctor(checks));
        return s.ok ? EXIT.ok : EXIT.checkFailed;
      }),
    );
}
