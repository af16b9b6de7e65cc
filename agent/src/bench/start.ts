/**
 * Benchmark: profile runtime start (spawn `node agent/dist/main.js` to the first 200 of /health) and fresh idle RSS,
 * beside a bare Node HTTP server started and polled the same way, alternating runs so both see the same machine load.
 *   node agent/dist/bench/start.js [--runs 7] [--node-options "--max-semi-space-size=1"] [--json]
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parseEnv } from "@twilight/core";
import { AGENT_MAIN, exitOf, freePort, makeProfileDir, removeDir } from "../testing/harness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Math.round((Number(m?.[1] ?? 0) / 1024) * 10) / 10;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Poll `url` every 5 ms until it answers 200; the time from `t0`. Gives up after 20 s or when the child exits. */
async function firstOk(url: string, t0: number, child: ChildProcess): Promise<number> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: process exited ${child.exitCode} before answering`);
    const ok = await fetch(url).then(
      async (r) => {
        await r.arrayBuffer();
        return r.ok;
      },
      () => false,
    );
    if (ok) return performance.now() - t0;
    await sleep(5);
  }
  throw new Error(`${url}: no 200 within 20 s`);
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill("SIGTERM");
  await exitOf(child).catch(() => child.kill("SIGKILL"));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string", default: "7" },
      "node-options": { type: "string", default: "" },
      json: { type: "boolean", default: false },
    },
  });
  const runs = Math.min(50, Math.max(1, Number(values.runs)));
  // an MCP server is configured (as in every real profile) but never reached: the runtime must not need it to start
  const dir = makeProfileDir({ name: "bench-start", mcpUrl: "http://127.0.0.1:9/mcp" });
  const dotenv = parseEnv(readFileSync(`${dir}/.env`, "utf8"));
  const agent: number[] = [];
  const bare: number[] = [];
  let rssAgent = 0;
  let rssBare = 0;
  try {
    for (let i = 0; i < runs; i++) {
      const port = await freePort();
      let t0 = performance.now();
      let child = spawn(process.execPath, [AGENT_MAIN], {
        cwd: dir,
        env: {
          PATH: process.env.PATH ?? "",
          ...dotenv,
          HERMES_HOME: dir,
          API_SERVER_PORT: String(port),
          LOG_LEVEL: "warn",
          ...(values["node-options"] ? { NODE_OPTIONS: values["node-options"] } : {}),
        },
        stdio: "ignore",
      });
      agent.push(await firstOk(`http://127.0.0.1:${port}/health`, t0, child));
      if (i === 0) {
        await sleep(2_000);
        rssAgent = rssMiB(child.pid as number);
      }
      await stop(child);
      const bport = await freePort();
      t0 = performance.now();
      child = spawn(process.execPath, ["-e", `require('http').createServer((q,s)=>s.end('ok')).listen(${bport},'127.0.0.1')`], {
        stdio: "ignore",
      });
      bare.push(await firstOk(`http://127.0.0.1:${bport}/`, t0, child));
      if (i === 0) {
        await sleep(2_000);
        rssBare = rssMiB(child.pid as number);
      }
      await stop(child);
    }
  } finally {
    removeDir(dir);
  }
  const m = { agent: median(agent), bare: median(bare) };
  const result = {
    bench: "profile runtime start to /health",
    runs,
    node_options: values["node-options"] || null,
    median_ms: { agent: Math.round(m.agent), bare_node_http_server: Math.round(m.bare) },
    ratio: Math.round((m.agent / m.bare) * 100) / 100,
    idle_rss_fresh_mib: { agent: rssAgent, bare_node_http_server: rssBare, ratio: Math.round((rssAgent / rssBare) * 100) / 100 },
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`profile runtime start to /health, median of ${runs}; node options: ${values["node-options"] || "(none)"}`);
    console.log(`  node agent/dist/main.js   ${m.agent.toFixed(0)} ms   (${agent.map((x) => x.toFixed(0)).join(", ")})`);
    console.log(`  bare Node HTTP server     ${m.bare.toFixed(0)} ms   (${bare.map((x) => x.toFixed(0)).join(", ")})`);
    console.log(`  ratio ${result.ratio}x (goal <= 2x)`);
    console.log(`  idle RSS fresh: profile ${rssAgent} MiB, bare ${rssBare} MiB (goal <= 60 MiB)`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
