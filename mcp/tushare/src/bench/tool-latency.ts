/**
 * Benchmark: MCP tool-call latency over loopback (SDK client -> Streamable HTTP -> tool -> DuckDB -> signed envelope)
 * beside the same query run directly on DuckDB in-process. Prints p50, p99, calls/s of each and their ratio.
 * Bounded: `--seconds S` per side (default 1.5), at most 20,000 calls each. Usage:
 *   node mcp/tushare/dist/bench/tool-latency.js [--seconds 1.5] [--json]
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

async function measure(fn: () => Promise<void>, seconds: number, maxCalls = 20_000): Promise<Stats> {
  for (let i = 0; i < 50; i++) await fn();
  const lat: number[] = [];
  const start = performance.now();
  const end = start + seconds * 1000;
  while (performance.now() < end && lat.length < maxCalls) {
    const t = performance.now();
    await fn();
    lat.push(performance.now() - t);
  }
  const elapsed = (performance.now() - start) / 1000;
  lat.sort((a, b) => a - b);
  return { calls: lat.length, p50_ms: quantile(lat, 0.5), p99_ms: quantile(lat, 0.99), calls_per_s: lat.length / elapsed };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: "string" }, json: { type: "boolean" } } });
  const seconds = Math.min(10, Math.max(0.2, Number(values.seconds ?? 1.5)));
  const tmp = tempDir("mcp-tushare-bench-");
  const svc = await startTestService({ dataDir: tmp.dir, windowStart: "20241101", tokens: { bench: "bench-token-0123456789" } });
  const client = new Client({ name: "bench", version: "1.0.0" });
  try {
    await svc.scheduler.runOnce("bench");
    await client.connect(
      new StreamableHTTPClientTransport(new URL("/mcp", svc.url), {
        requestInit: { headers: { authorization: "Bearer bench-token-0123456789" } },
      }),
    );
    await client.listTools();
    const args = { ts_code: "600519", as_of: "20241231" };
    const mcp = await measure(async () => {
      const r = await client.callTool({ name: TOOLS.latestPrice, arguments: args });
      if (r.isError) throw new Error(JSON.stringify(r.content));
    }, seconds);
    const direct = await measure(async () => {
      const bar = await latestBar(svc.wh, "600519.SH", "20241231");
      if (bar?.close !== 1524) throw new Error("unexpected bar");
    }, seconds);
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
          `ratio MCP/direct: p50 x${ratio.p50.toFixed(1)}, p99 x${ratio.p99.toFixed(1)}, throughput x${ratio.throughput.toFixed(1)} lower`,
          "",
        ].join("\n"),
      );
    }
  } finally {
    await client.close().catch(() => undefined);
    await svc.close();
    tmp.remove();
  }
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
