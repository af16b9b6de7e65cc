/**
 * Benchmark: prefab spawn-to-healthy through the fleet (API and CLI) beside starting the same agent process bare
 * (the same runtime command, bundle and flags, in a ready profile directory, as the same uid) until its /health answers. Prints medians
 * and the ratio; and, as the issue's yardstick, `pm2 start` of a bare Node HTTP server to its first 200 (pm2's own daemon
 * in a private PM2_HOME, already up; killed at the end). Usage: node fleet/dist/bench/prefab-spawn.js [runs=5]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { freePort, parseEnv } from "@twilight/core";
import { APP_DIR } from "../config.js";
import { readAdminToken } from "../lib/daemon-files.js";
import { agentArgv, processEnv } from "../runtime/process-env.js";
import { fleetHarness } from "../testing/harness.js";
import { waitHealthy } from "../workload/health.js";
import { fmtMs, median } from "./stats.js";

const runs = Number(process.argv[2] ?? 5);

/** Spawn `runs` profiles through the API and the CLI on a daemon with a warm pool of `poolSize` (refilled before each). */
async function spawns(poolSize: number, prefix: string) {
  const h = await fleetHarness({ LOG_LEVEL: "warn", FLEET_POOL_SIZE: String(poolSize) });
  await h.startDaemon();
  const token = readAdminToken(join(h.ops, "admin-token"));
  const poolFull = async () => {
    for (let i = 0; i < 600 && poolSize > 0; i++) {
      const r = (await (await fetch(`${h.url}/v1/health`)).json()) as { pool?: { ready: number } };
      if ((r.pool?.ready ?? 0) >= poolSize) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const api: number[] = [];
  const cli: number[] = [];
  for (let i = 0; i < runs; i++) {
    await poolFull();
    let t0 = performance.now();
    const res = await fetch(`${h.url}/v1/profiles/${prefix}-api-${i}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ tier: "prefab" }),
    });
    if (res.status !== 201) throw new Error(`spawn failed: ${res.status} ${await res.text()}`);
    api.push(performance.now() - t0);
    await poolFull();
    t0 = performance.now();
    const r = h.cli(["spawn", `${prefix}-cli-${i}`, "--tier", "prefab"]);
    if (r.code !== 0) throw new Error(r.stderr);
    cli.push(performance.now() - t0);
  }
  return { h, api, cli };
}

const pooled = await spawns(2, "bench-pool");
await pooled.h.cleanup();
const { h, api, cli } = await spawns(0, "bench");
const bare: number[] = [];
try {
  // Bare: the same agent, same directory layout and uid, started by hand. Uses bench-api-0's directory after stopping it.
  const p = h.cliJson<{ profiles: Array<{ name: string; profile_path: string; uid: number; gid: number; port: number }> }>([
    "list",
    "--no-stats",
  ]).profiles[0]!;
  h.cli(["stop", p.name]);
  const env = processEnv({
    dir: p.profile_path,
    appDir: APP_DIR,
    nodePath: process.execPath,
    generation: 1,
    dotenv: parseEnv(readFileSync(join(p.profile_path, ".env"), "utf8")),
  });
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const [node, ...args] = agentArgv(process.execPath, APP_DIR);
    const child = spawn(node as string, args, {
      cwd: p.profile_path,
      env,
      uid: p.uid,
      gid: p.gid,
      stdio: "ignore",
    });
    await waitHealthy({ port: p.port, timeoutMs: 20_000, intervalMs: 10 });
    bare.push(performance.now() - t0);
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
  // pm2 start of a bare server (the yardstick), its daemon warmed by a first start
  const pm2Home = mkdtempSync(join(tmpdir(), "twl-pm2-"));
  const server = join(pm2Home, "server.cjs");
  writeFileSync(server, 'require("http").createServer((q,r)=>r.end("ok")).listen(Number(process.argv[2]),"127.0.0.1")\n');
  const PM2 = join(APP_DIR, "node_modules", "pm2", "bin", "pm2");
  const pm2 = (...args: string[]) =>
    spawnSync(process.execPath, [PM2, ...args], { env: { ...process.env, PM2_HOME: pm2Home }, encoding: "utf8" });
  const pm2Ms: number[] = [];
  try {
    for (let i = -1; i < runs; i++) {
      const port = await freePort();
      const t0 = performance.now();
      const r = pm2("start", server, "--name", `bench-${i + 1}`, "--", String(port));
      if (r.status !== 0) throw new Error(`pm2 start: ${r.stderr}`);
      await waitHealthy({ port, timeoutMs: 20_000, intervalMs: 10, accept: (x) => x.httpStatus === 200 });
      if (i >= 0) pm2Ms.push(performance.now() - t0);
      pm2("delete", `bench-${i + 1}`);
    }
  } finally {
    pm2("kill");
    rmSync(pm2Home, { recursive: true, force: true });
  }
  const m = {
    pooled_api: median(pooled.api),
    pooled_cli: median(pooled.cli),
    api: median(api),
    cli: median(cli),
    bare: median(bare),
    pm2: median(pm2Ms),
  };
  console.log(`prefab spawn-to-healthy, median of ${runs} (2 cores):`);
  console.log(
    `  from the warm pool: fleet API      ${fmtMs(m.pooled_api)}   (${pooled.api.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(
    `  from the warm pool: CLI spawn      ${fmtMs(m.pooled_cli)}   (${pooled.cli.map((x) => x.toFixed(0)).join(", ")})`,
  );
  console.log(`  cold: fleet API  PUT /v1/profiles/:name   ${fmtMs(m.api)}   (${api.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`  cold: hermes-admin spawn (CLI)            ${fmtMs(m.cli)}   (${cli.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`  bare node agent to /health          ${fmtMs(m.bare)}   (${bare.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`  pm2 start of a bare server to 200    ${fmtMs(m.pm2)}   (${pm2Ms.map((x) => x.toFixed(0)).join(", ")})`);
  console.log(`  ratio fleet API / bare: ${(m.api / m.bare).toFixed(2)}x; CLI / bare: ${(m.cli / m.bare).toFixed(2)}x`);
  console.log(
    `  ratio fleet API / pm2 start of a bare server: pooled ${(m.pooled_api / m.pm2).toFixed(2)}x (goal <= 0.5x), cold ${(m.api / m.pm2).toFixed(2)}x`,
  );
  console.log(
    JSON.stringify({
      bench: "prefab-spawn",
      runs,
      median_ms: m,
      ratio_api_bare: m.api / m.bare,
      ratio_cli_bare: m.cli / m.bare,
      ratio_api_pm2: m.api / m.pm2,
      ratio_pooled_api_pm2: m.pooled_api / m.pm2,
    }),
  );
} finally {
  await h.cleanup();
}
