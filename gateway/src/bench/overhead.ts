/**
 * Bench: gateway overhead per request. The same chat request (non-streaming) sent straight to the simulator and through
 * the gateway (both real processes), at 1 and 16 concurrent clients, rounds interleaved so all see the same machine load.
 * Beside them, a bare pass-through Node.js proxy (bare-proxy.ts: no checks, no metering) shows what any extra process
 * hop costs on this machine, so the gateway's own share is the difference to it.
 * Prints p50/p99 latency of each and the differences (goal: <= 2 ms added at p50), and the CPU time each proxy process
 * spent per request (what the gateway costs the host whatever the load).
 * With an upstream that answers at once (the default), 16 clients saturate this 2-core host (clients, simulator and
 * proxy are all busy), so "added latency" there is queueing for CPU; `--upstream-latency-ms 100` gives the simulator a
 * model-like latency (a real one takes 0.3-30 s), which is how the gateway is used.
 * Usage: node gateway/dist/bench/overhead.js [--requests N] [--upstream-latency-ms MS] [--json]
 */

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MAIN, startGatewayProcess, writeKeys } from "../testing.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "400" },
    "upstream-latency-ms": { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const N = Number(values.requests);
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const BODY = Buffer.from(
  JSON.stringify({ model: "sim-model", messages: [{ role: "user", content: "how is 600519.SH doing today" }] }),
);

function once(url: URL, key: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json", "content-length": BODY.length },
      },
      (res) => {
        res.resume();
        res.on("end", () =>
          res.statusCode === 200
            ? resolve(Number(process.hrtime.bigint() - t) / 1e6)
            : reject(new Error(`HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on("error", reject);
    req.end(BODY);
  });
}

async function round(url: URL, key: string, conc: number, n: number, out: number[]): Promise<void> {
  let left = n;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (left-- > 0) out.push(await once(url, key));
    }),
  );
}

/** CPU time (user + system) a process has used, ms (/proc/<pid>/stat, 100 Hz ticks). */
function cpuMs(pid: number | undefined): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  return (Number(rest[11]) + Number(rest[12])) * 10;
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))] as number;

// the simulator is its own process too, so the direct path and the gateway path both cross a process boundary
const keyDir = mkdtempSync(join(tmpdir(), "gw-bench-"));
writeFileSync(join(keyDir, "key"), "bench-upstream-key", { mode: 0o600 });
const LATENCY = Number(values["upstream-latency-ms"]);
const sim = spawn(
  process.execPath,
  [MAIN, "sim", "--port", "0", "--key-file", join(keyDir, "key"), "--latency-ms", String(LATENCY), "--json"],
  {
    stdio: ["ignore", "pipe", "inherit"],
  },
);
const upstreamUrl = await new Promise<string>((resolve, reject) => {
  let out = "";
  sim.stdout?.on("data", (c) => {
    out += String(c);
    const line = out.split("\n").find((l) => l.startsWith("{"));
    if (line) resolve((JSON.parse(line) as { url: string }).url);
  });
  sim.once("exit", (code) => reject(new Error(`simulator exited ${code}`)));
});
const gw = await startGatewayProcess({
  upstreamUrl,
  upstreamKey: "bench-upstream-key",
  nodeArgs: process.env.GW_NODE_ARGS?.split(" ").filter(Boolean),
  env: {
    LOG_LEVEL: "warn",
    GATEWAY_LIMITS: JSON.stringify({ dedicated_pro: { rpm: 1e9, tpm: 1e12, tpd: 1e12, monthlyFen: 1e9, concurrency: 64 } }),
  },
});
writeKeys(gw.dataDir, [{ key: "bench-virtual-key", profile: "bench", plan: "dedicated_pro" }]);
const bare = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), "bare-proxy.js"), upstreamUrl], {
  stdio: ["ignore", "pipe", "inherit"],
});
const barePort = await new Promise<number>((resolve, reject) => {
  bare.stdout?.once("data", (c) => resolve((JSON.parse(String(c)) as { port: number }).port));
  bare.once("exit", (code) => reject(new Error(`bare proxy exited ${code}`)));
});
await new Promise((r) => setTimeout(r, 700));
const direct = new URL(`${upstreamUrl}/chat/completions`);
const via = new URL(`${gw.url}/v1/chat/completions`);
const viaBare = new URL(`http://127.0.0.1:${barePort}/v1/chat/completions`);
const results: Record<string, unknown>[] = [];
try {
  for (const conc of [1, 16]) {
    const d: number[] = [];
    const g: number[] = [];
    const b: number[] = [];
    await round(direct, "bench-upstream-key", conc, 50, []); // warm-up
    await round(via, "bench-virtual-key", conc, 50, []);
    await round(viaBare, "bench-upstream-key", conc, 50, []);
    let gwCpu = 0;
    let bareCpu = 0;
    for (let i = 0; i < 10; i++) {
      await round(direct, "bench-upstream-key", conc, N / 10, d);
      let c0 = cpuMs(gw.proc.pid);
      await round(via, "bench-virtual-key", conc, N / 10, g);
      gwCpu += cpuMs(gw.proc.pid) - c0;
      c0 = cpuMs(bare.pid);
      await round(viaBare, "bench-upstream-key", conc, N / 10, b);
      bareCpu += cpuMs(bare.pid) - c0;
    }
    const row = {
      concurrency: conc,
      requests: N,
      direct_p50_ms: +pct(d, 50).toFixed(2),
      direct_p99_ms: +pct(d, 99).toFixed(2),
      gateway_p50_ms: +pct(g, 50).toFixed(2),
      gateway_p99_ms: +pct(g, 99).toFixed(2),
      added_p50_ms: +(pct(g, 50) - pct(d, 50)).toFixed(2),
      added_p99_ms: +(pct(g, 99) - pct(d, 99)).toFixed(2),
      bare_proxy_p50_ms: +pct(b, 50).toFixed(2),
      bare_proxy_added_p50_ms: +(pct(b, 50) - pct(d, 50)).toFixed(2),
      gateway_over_bare_p50_ms: +(pct(g, 50) - pct(b, 50)).toFixed(2),
      upstream_latency_ms: LATENCY,
      gateway_cpu_ms_per_request: +(gwCpu / N).toFixed(3),
      bare_proxy_cpu_ms_per_request: +(bareCpu / N).toFixed(3),
    };
    results.push(row);
    if (!values.json)
      console.log(
        `gateway overhead, ${conc} client(s), ${N} requests: direct p50 ${row.direct_p50_ms} ms p99 ${row.direct_p99_ms} ms | ` +
          `via gateway p50 ${row.gateway_p50_ms} ms p99 ${row.gateway_p99_ms} ms | added p50 ${row.added_p50_ms} ms p99 ${row.added_p99_ms} ms (goal <= 2 ms p50)\n` +
          `  bare pass-through proxy p50 ${row.bare_proxy_p50_ms} ms (any extra hop adds ${row.bare_proxy_added_p50_ms} ms); ` +
          `the gateway's own work adds ${row.gateway_over_bare_p50_ms} ms p50 beyond it\n` +
          `  CPU per request: gateway ${row.gateway_cpu_ms_per_request} ms, bare proxy ${row.bare_proxy_cpu_ms_per_request} ms (upstream latency ${LATENCY} ms)`,
      );
  }
  if (values.json) console.log(JSON.stringify({ bench: "gateway-overhead", results }));
} finally {
  agent.destroy();
  await gw.stop();
  sim.kill("SIGTERM");
  bare.kill("SIGTERM");
}
