/**
 * Benchmark: chat-request latency of one profile process with the offline model and real tool calls (HTTP ->
 * session lock -> planner -> MCP call to the data service -> cite verification -> SQLite turn write), sequential and
 * concurrent, plus the idle RSS of the profile process (fresh, and after the load) beside a bare Node HTTP server.
 * Uses the real data service (mcp/tushare/dist/main.js) when built, else the in-process fake (said in the output).
 *   node agent/dist/bench/chat-latency.js [--requests 300] [--concurrency 8] [--data-service auto|real|fake]
 *     [--node-options=--max-semi-space-size=1] [--env=MALLOC_ARENA_MAX=2 ...] [--json]
 * --node-options starts the profile process with those Node flags (NODE_OPTIONS), to measure a flag's RSS/latency cost.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { type DataServiceHandle, startDataService } from "../testing/data-service.js";
import { chat, exitOf, freePort, makeProfileDir, removeDir, spawnAgent } from "../testing/harness.js";

const QUESTIONS = ["price of 600519", "and its fundamentals for 2024?", "五粮液的股价是多少？", "它2024年的基本面呢"];

interface Stats {
  requests: number;
  concurrency: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  requests_per_s: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Math.round((Number(m?.[1] ?? 0) / 1024) * 10) / 10;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function load(a: { url: string; apiKey: string }, total: number, concurrency: number, tag: string): Promise<Stats> {
  const lat: number[] = [];
  let next = 0;
  const start = performance.now();
  // each worker takes whole sessions (4 turns: price, follow-up, another stock, follow-up) so follow-ups stay in order
  const sessions = Math.ceil(total / QUESTIONS.length);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const s = next++;
        if (s >= sessions) return;
        for (const [turn, q] of QUESTIONS.entries()) {
          const t = performance.now();
          const r = await chat(a, { messages: [{ role: "user", content: q }] }, `${tag}-${s}`);
          const cites = (r.json.citations as unknown[] | undefined)?.length ?? 0;
          if (r.status !== 200 || cites === 0)
            throw new Error(`session ${s} turn ${turn} failed: ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
          lat.push(performance.now() - t);
        }
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort((x, y) => x - y);
  const r2 = (n: number) => Math.round(n * 100) / 100;
  return {
    requests: lat.length,
    concurrency,
    p50_ms: r2(quantile(lat, 0.5)),
    p99_ms: r2(quantile(lat, 0.99)),
    max_ms: r2(lat.at(-1) ?? Number.NaN),
    requests_per_s: r2(lat.length / secs),
  };
}

/** Where the RSS goes, from the profile's own /metrics (prom-client default metrics): V8 heap and external memory. */
async function memoryOf(a: { url: string; apiKey: string }, pid: number): Promise<Record<string, number>> {
  const text = await fetch(`${a.url}/metrics`, { headers: { authorization: `Bearer ${a.apiKey}` } }).then((r) => r.text());
  const mib = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
    return Math.round((Number(m?.[1] ?? Number.NaN) / 1048576) * 10) / 10;
  };
  const rss = rssMiB(pid);
  const heapTotal = mib("nodejs_heap_size_total_bytes");
  const external = mib("nodejs_external_memory_bytes");
  return {
    rss,
    heap_used: mib("nodejs_heap_size_used_bytes"),
    heap_total: heapTotal,
    external,
    code_and_native: Math.round((rss - heapTotal - external) * 10) / 10,
  };
}

async function bareNodeRss(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "require('http').createServer((q,s)=>s.end('ok')).listen(0,'127.0.0.1')"], {
    stdio: "ignore",
  });
  await sleep(1_500);
  const rss = rssMiB(child.pid as number);
  child.kill("SIGTERM");
  await exitOf(child).catch(() => undefined);
  return rss;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: "string", default: "300" },
      concurrency: { type: "string", default: "8" },
      "data-service": { type: "string", default: "auto" },
      "node-options": { type: "string", default: "" },
      env: { type: "string", multiple: true, default: [] },
      json: { type: "boolean", default: false },
    },
  });
  const total = Math.min(20_000, Math.max(10, Number(values.requests)));
  const conc = Math.min(64, Math.max(1, Number(values.concurrency)));
  const kind = values["data-service"] as "auto" | "real" | "fake";
  let ds: DataServiceHandle | undefined;
  let dir: string | undefined;
  let child: import("node:child_process").ChildProcess | undefined;
  try {
    ds = await startDataService(kind);
    await ds.addToken("tmcp_bench", "bench");
    dir = makeProfileDir({ name: "bench", mcpUrl: ds.url, pinnedKeys: await ds.pinnedKeys(), mcpToken: "tmcp_bench" });
    const port = await freePort();
    const p = await spawnAgent(dir, {
      API_SERVER_PORT: String(port),
      LOG_LEVEL: "warn",
      ...(values["node-options"] ? { NODE_OPTIONS: values["node-options"] } : {}),
      ...Object.fromEntries((values.env ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])),
    });
    child = p.child;
    const a = { url: p.url, apiKey: "hk_test_bench_key" };
    await sleep(2_000);
    const idleFresh = rssMiB(child.pid as number);
    const memFresh = await memoryOf(a, child.pid as number);
    await load(a, 40, 1, "warm");
    const seq = await load(a, total, 1, "seq");
    const par = await load(a, total, conc, "par");
    const idleTrace: Array<[number, number]> = [];
    for (const at of [3, 10, 20, 30]) {
      await sleep((at - (idleTrace.at(-1)?.[0] ?? 0)) * 1000);
      idleTrace.push([at, rssMiB(child.pid as number)]);
    }
    {
      // where the resident memory is, by mapping: the node binary's pages are shared by every profile on the host
      const by = new Map<string, number>();
      let cur = "";
      for (const line of readFileSync(`/proc/${child.pid}/smaps`, "utf8").split("\n")) {
        const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
        if (m) cur = (m[1] ?? "").replace(/.*node_modules\//, "nm:").replace(/^$/, "[anon]");
        const r = /^Rss:\s+(\d+) kB/.exec(line);
        if (r) by.set(cur, (by.get(cur) ?? 0) + Number(r[1]));
      }
      for (const [k, v] of [...by].sort((a, b) => b[1] - a[1]).slice(0, 12))
        console.error(`  smaps ${Math.round(v / 1024)} MiB ${k}`);
    }
    console.error(`idle RSS after load: ${idleTrace.map(([s, r]) => `${s}s ${r} MiB`).join(", ")}`);
    const idleAfter = rssMiB(child.pid as number);
    const memAfter = await memoryOf(a, child.pid as number);
    const bare = await bareNodeRss();
    const result = {
      bench: "agent chat latency (offline model, 1 MCP tool call + cite check + SQLite write per request)",
      data_service: ds.kind,
      node_options: values["node-options"] || null,
      sequential: seq,
      concurrent: par,
      idle_rss_mib: { profile_fresh: idleFresh, profile_after_load: idleAfter, bare_node_http_server: bare },
      memory_mib: { fresh: memFresh, after_load: memAfter },
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`${result.bench}; data service: ${ds.kind}; node options: ${values["node-options"] || "(none)"}`);
      for (const s of [seq, par])
        console.log(
          `  concurrency ${String(s.concurrency).padStart(2)}: ${s.requests} requests  p50 ${s.p50_ms} ms  p99 ${s.p99_ms} ms  max ${s.max_ms} ms  ${s.requests_per_s} req/s`,
        );
      console.log(`  idle RSS: profile ${idleFresh} MiB fresh, ${idleAfter} MiB after load; bare Node HTTP server ${bare} MiB`);
      for (const [k, m] of Object.entries(result.memory_mib))
        console.log(
          `  ${k.padEnd(10)} rss ${m.rss}  heap used ${m.heap_used} / total ${m.heap_total}  external ${m.external}  code+native ${m.code_and_native} MiB`,
        );
    }
  } finally {
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await exitOf(child).catch(() => child?.kill("SIGKILL"));
    }
    await ds?.stop();
    if (dir) removeDir(dir);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
