/**
 * Benchmark: MCP tool-call latency over loopback (SDK client -> Streamable HTTP -> tool -> DuckDB -> signed envelope)
 * beside the same query run directly on DuckDB in-process (the yardstick reads DuckDB every time: `{ cache: false }`;
 * the service answers a repeated question from the warehouse's read cache, valid until the next write). Prints p50,
 * p99, calls/s of each and their ratio; then the same with `--clients N` (default 8) concurrent callers on each side
 * (N SDK clients, each its own session; issue 13's goal: >= 500 calls/s at 8): first with the service in this process
 * (callers and service share one thread: a floor), then as in production, the service in a process of its own
 * (`--serve-child`, this file), warmed up, median of three rounds.
 * Bounded: `--seconds S` per side (default 1.5), at most 20,000 calls each. Usage:
 *   node mcp/tushare/dist/bench/tool-latency.js [--seconds 1.5] [--clients 8] [--json]
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TOOLS } from "@twilight/core";
import { startTestService, tempDir } from "../testkit.js";
import { latestBar } from "../warehouse/read.js";

interface Stats {
  calls: number;
  p50_ms: number;
  p99_ms: number;
  calls_per_s: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/** One caller, sequential calls (50 to warm up). */
function measure(fn: () => Promise<void>, seconds: number): Promise<Stats> {
  return measureConcurrent([fn], seconds, 50);
}

/** `fns.length` callers in parallel until the time is up: latency over every call, calls/s over all of them. */
async function measureConcurrent(fns: Array<() => Promise<void>>, seconds: number, warmup = 10): Promise<Stats> {
  const maxCalls = 20_000;
  await Promise.all(
    fns.map(async (fn) => {
      for (let i = 0; i < warmup; i++) await fn();
    }),
  );
  const lat: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    fns.map(async (fn) => {
      while (performance.now() < end && lat.length < maxCalls) {
        const t = performance.now();
        await fn();
        lat.push(performance.now() - t);
      }
    }),
  );
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { calls: lat.length, p50_ms: quantile(lat, 0.5), p99_ms: quantile(lat, 0.99), calls_per_s: lat.length / elapsed };
}

/** Child mode: the service alone in this process (as in production), its URL on stdout, until SIGTERM. */
async function serveChild(): Promise<void> {
  const tmp = tempDir("mcp-tushare-bench-child-");
  const svc = await startTestService({ dataDir: tmp.dir, windowStart: "20241101", tokens: { bench: BENCH_TOKEN } });
  await svc.scheduler.runOnce("bench");
  process.stdout.write(`${JSON.stringify({ url: svc.url })}\n`);
  process.once("SIGTERM", () => {
    void svc.close().finally(() => {
      tmp.remove();
      process.exit(0);
    });
  });
}

/** The service in a child process; resolves with its URL and a stop function. `nodeArgs` e.g. --cpu-prof. */
async function serviceProcess(nodeArgs: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...nodeArgs, fileURLToPath(import.meta.url), "--serve-child"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (b: Buffer) => {
      buf += b.toString();
      const line = buf.split("\n")[0];
      if (buf.includes("\n") && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once("exit", (code) => reject(new Error(`service process exited (${code})`)));
  });
  return {
    url,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

async function connectClients(n: number, url: string): Promise<Client[]> {
  const clients = Array.from({ length: n }, () => new Client({ name: "bench", version: "1.0.0" }));
  for (const c of clients) {
    await c.connect(
      new StreamableHTTPClientTransport(new URL("/mcp", url), {
        requestInit: { headers: { authorization: `Bearer ${BENCH_TOKEN}` } },
      }),
    );
    await c.listTools();
  }
  return clients;
}

const BENCH_TOKEN = "bench-token-0123456789";
const ARGS = { ts_code: "600519", as_of: "20241231" };
const call = (c: Client) => async () => {
  const r = await c.callTool({ name: TOOLS.latestPrice, arguments: ARGS });
  if (r.isError) throw new Error(JSON.stringify(r.content));
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string" },
      clients: { type: "string" },
      json: { type: "boolean" },
      "serve-child": { type: "boolean" },
      "child-node-arg": { type: "string", multiple: true },
    },
  });
  if (values["serve-child"]) return serveChild();
  const seconds = Math.min(10, Math.max(0.2, Number(values.seconds ?? 1.5)));
  const nClients = Math.min(64, Math.max(1, Number(values.clients ?? 8)));
  const tmp = tempDir("mcp-tushare-bench-");
  const svc = await startTestService({ dataDir: tmp.dir, windowStart: "20241101", tokens: { bench: BENCH_TOKEN } });
  let clients: Client[] = [];
  try {
    await svc.scheduler.runOnce("bench");
    clients = await connectClients(nClients, svc.url);
    const client = clients[0] as Client;
    const query = async () => {
      const bar = await latestBar(svc.wh, "600519.SH", "20241231", { cache: false });
      if (bar?.close !== 1524) throw new Error("unexpected bar");
    };
    const mcp = await measure(call(client), seconds);
    const direct = await measure(query, seconds);
    const mcpN = await measureConcurrent(clients.map(call), seconds);
    const directN = await measureConcurrent(
      clients.map(() => query),
      seconds,
    );
    for (const c of clients) await c.close().catch(() => undefined);
    // as in production: the service is a process of its own, the callers are elsewhere (here: this process)
    const child = await serviceProcess(values["child-node-arg"] ?? []);
    let own: Stats;
    let ownN: Stats;
    let ownRounds: number[] = [];
    try {
      clients = await connectClients(nClients, child.url);
      own = await measure(call(clients[0] as Client), seconds);
      // calls/s at 8 clients swings +-20% between runs on this 2-core host: a warm-up round (the service's code is
      // still being optimised during the first thousand calls: a running service is warm), then the median of three
      await measureConcurrent(clients.map(call), seconds);
      const rounds: Stats[] = [];
      for (let i = 0; i < 3; i++) rounds.push(await measureConcurrent(clients.map(call), seconds));
      rounds.sort((a, b) => a.calls_per_s - b.calls_per_s);
      ownN = rounds[1] as Stats;
      ownRounds = rounds.map((r) => Math.round(r.calls_per_s));
    } finally {
      for (const c of clients) await c.close().catch(() => undefined);
      clients = [];
      await child.stop();
    }
    const ratio = {
      p50: mcp.p50_ms / direct.p50_ms,
      p99: mcp.p99_ms / direct.p99_ms,
      throughput: direct.calls_per_s / mcp.calls_per_s,
    };
    const out = {
      query: "get_latest_price 600519 as_of 20241231",
      seconds_per_side: seconds,
      mcp_loopback: mcp,
      duckdb_direct: direct,
      ratio,
      clients: nClients,
      mcp_loopback_concurrent: mcpN,
      duckdb_direct_concurrent: directN,
      service_process: own,
      service_process_concurrent: ownN,
      service_process_concurrent_rounds_calls_per_s: ownRounds,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    else {
      const row = (name: string, s: Stats) =>
        `${name.padEnd(30)} ${s.p50_ms.toFixed(3).padStart(9)} ${s.p99_ms.toFixed(3).padStart(9)} ${s.calls_per_s.toFixed(0).padStart(9)} ${String(s.calls).padStart(7)}`;
      process.stdout.write(
        [
          `query: ${out.query} (${seconds} s per side, sequential, loopback)`,
          `${"path".padEnd(30)} ${"p50 ms".padStart(9)} ${"p99 ms".padStart(9)} ${"calls/s".padStart(9)} ${"calls".padStart(7)}`,
          row("MCP tool call (SDK client)", mcp),
          row("DuckDB direct (read-only txn)", direct),
          `ratio MCP/direct: p50 x${ratio.p50.toFixed(2)}, p99 x${ratio.p99.toFixed(2)}, calls/s x${(1 / ratio.throughput).toFixed(2)}`,
          row(`MCP, ${nClients} clients`, mcpN),
          row(`DuckDB direct, ${nClients} callers`, directN),
          row("MCP, service in its own process", own),
          row(`MCP, own process, ${nClients} clients`, ownN),
          `  (median of 3 rounds; calls/s of each: ${ownRounds.join(", ")})`,
          `at ${nClients} clients: service in its own process ${ownN.calls_per_s.toFixed(0)} calls/s (goal >= 500), ` +
            `sharing the callers' thread ${mcpN.calls_per_s.toFixed(0)}; p50 x${(ownN.p50_ms / directN.p50_ms).toFixed(2)} direct`,
          "",
        ].join("\n"),
      );
    }
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    await svc.close();
    tmp.remove();
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
