/**
 * Benchmark: MCP tool-call latency over loopback (SDK client -> Streamable HTTP -> tool -> DuckDB -> signed envelope)
 * beside the same query run directly on DuckDB in-process (the yardstick reads DuckDB every time: `{ cache: false }`;
 * the service answers a repeated question from the warehouse's read cache, valid until the next write). Prints p50,
 * p99, calls/s of each and their ratio; then the same with `--clients N` (default 8) concurrent callers on each side
 * (N SDK clients, each its own session; issue 13's goal: >= 500 calls/s at 8). The clients share the service's process
 * and thread here, so the concurrent figure is a floor (profiles are processes of their own).
 * Bounded: `--seconds S` per side (default 1.5), at most 20,000 calls each. Usage:
 *   node mcp/tushare/dist/bench/tool-latency.js [--seconds 1.5] [--clients 8] [--json]
 */
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

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: "string" }, clients: { type: "string" }, json: { type: "boolean" } },
  });
  const seconds = Math.min(10, Math.max(0.2, Number(values.seconds ?? 1.5)));
  const nClients = Math.min(64, Math.max(1, Number(values.clients ?? 8)));
  const tmp = tempDir("mcp-tushare-bench-");
  const svc = await startTestService({ dataDir: tmp.dir, windowStart: "20241101", tokens: { bench: "bench-token-0123456789" } });
  const clients = Array.from({ length: nClients }, () => new Client({ name: "bench", version: "1.0.0" }));
  const client = clients[0] as Client;
  try {
    await svc.scheduler.runOnce("bench");
    for (const c of clients) {
      await c.connect(
        new StreamableHTTPClientTransport(new URL("/mcp", svc.url), {
          requestInit: { headers: { authorization: "Bearer bench-token-0123456789" } },
        }),
      );
      await c.listTools();
    }
    const args = { ts_code: "600519", as_of: "20241231" };
    const call = (c: Client) => async () => {
      const r = await c.callTool({ name: TOOLS.latestPrice, arguments: args });
      if (r.isError) throw new Error(JSON.stringify(r.content));
    };
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
          `at ${nClients}: MCP ${mcpN.calls_per_s.toFixed(0)} calls/s (goal >= 500), p50 x${(mcpN.p50_ms / directN.p50_ms).toFixed(2)} direct`,
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
