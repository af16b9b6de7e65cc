/**
 * `mcp check` (the CLI, spawned as hermes-admin will) against a live service fed by the Tushare protocol server:
 * passes when healthy; fails naming the item when the scheduler is stale or a /warehouse route is broken.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { CheckReport } from "./check.js";
import { ManualClock } from "./clock.js";
import type { Service } from "./service.js";
import { quietLog, startTestService, tempDir } from "./testkit.js";
import { TushareClient } from "./tushare/client.js";
import { startTushareTestServer, type TushareTestServer } from "./tushare/testServer.js";

const CLI = fileURLToPath(new URL("./cli.js", import.meta.url));
const TOKEN = "check-tushare-token-0123";
/** Wednesday 2025-12-31, 18:00 in Shanghai: after the close of the last day of the sample. */
const NOW = Date.UTC(2025, 11, 31, 10, 0, 0);

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { timeout: 30_000, env: { PATH: process.env.PATH ?? "" } },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** A proxy in front of the service that breaks one route (answers 500), passing everything else through. */
async function breakingProxy(target: string, brokenPath: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      if ((req.url ?? "").startsWith(brokenPath)) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end('{"error":{"code":"INTERNAL","message":"broken on purpose"}}');
        return;
      }
      const headers: Record<string, string> = {};
      for (const h of ["authorization", "accept", "content-type", "mcp-protocol-version", "mcp-session-id"]) {
        const v = req.headers[h];
        if (typeof v === "string") headers[h] = v;
      }
      const body = chunks.length ? Buffer.concat(chunks) : undefined;
      const up = await fetch(new URL(req.url ?? "/", target), {
        method: req.method ?? "GET",
        headers,
        ...(body ? { body } : {}),
      });
      const text = Buffer.from(await up.arrayBuffer());
      res.writeHead(up.status, { "content-type": up.headers.get("content-type") ?? "application/json" });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("mcp check", () => {
  const tmp = tempDir();
  let tushare: TushareTestServer;
  let svc: Service;
  const clock = new ManualClock(NOW);

  before(async () => {
    tushare = await startTushareTestServer({ token: TOKEN });
    svc = await startTestService({
      dataDir: tmp.dir,
      clock,
      windowStart: "20251101",
      schedulerEnabled: true,
      api: new TushareClient({ url: tushare.url, token: TOKEN, log: quietLog }),
    });
    for (let i = 0; i < 200 && svc.scheduler.status().last_run?.status !== "ok"; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(svc.scheduler.status().last_run?.status, "ok", "the first scheduled run finished");
  });
  after(async () => {
    await svc.close();
    await tushare.close();
    tmp.remove();
  });

  it("passes every item on a healthy service, with evidence", async () => {
    const r = await cli(["check", "--url", svc.url, "--data-dir", tmp.dir, "--json"]);
    const report = JSON.parse(r.stdout) as CheckReport;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(
      report.items.map((i) => [i.name, i.ok]),
      [
        ["tools", true],
        ["scheduler", true],
        ["daily", true],
        ["routes", true],
      ],
    );
    assert.match(report.items[0]?.evidence ?? "", /5 tools/);
    assert.match(report.items[2]?.evidence ?? "", /newest r_stock_daily trade_date 20251231.*0 open day/);
    const text = await cli(["check", "--url", svc.url, "--data-dir", tmp.dir]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /^PASS {2}tools/m);
    assert.match(text.stdout, /all 4 passed/);
  });

  it("fails the scheduler item, naming it, when trade_cal has not been refreshed for days", async () => {
    clock.set(NOW + 3 * 86_400_000);
    try {
      const r = await cli(["check", "--url", svc.url, "--data-dir", tmp.dir, "--json"]);
      assert.equal(r.code, 1);
      const report = JSON.parse(r.stdout) as CheckReport;
      assert.deepEqual(
        report.items.filter((i) => !i.ok).map((i) => i.name),
        ["scheduler"],
      );
      assert.match(report.items[1]?.evidence ?? "", /stale: trade_cal refreshed .*72\.0 h ago/);
      const text = await cli(["check", "--url", svc.url, "--data-dir", tmp.dir]);
      assert.match(text.stdout, /^FAIL {2}scheduler/m);
      assert.match(text.stdout, /1 of 4 failed \(scheduler\)/);
    } finally {
      clock.set(NOW);
    }
  });

  it("fails the routes item, naming the broken route, when a /warehouse route answers 500", async () => {
    const proxy = await breakingProxy(svc.url, "/warehouse/trade_cal");
    try {
      const r = await cli(["check", "--url", proxy.url, "--data-dir", tmp.dir, "--json"]);
      assert.equal(r.code, 1);
      const report = JSON.parse(r.stdout) as CheckReport;
      assert.deepEqual(
        report.items.filter((i) => !i.ok).map((i) => i.name),
        ["routes"],
      );
      assert.match(report.items[3]?.evidence ?? "", /trade_cal: HTTP 500/);
    } finally {
      await proxy.close();
    }
  });

  it("fails every item when nothing answers; --help and bad usage behave", async () => {
    const down = await cli(["check", "--url", "http://127.0.0.1:9", "--token", "x", "--json", "--timeout-ms", "2000"]);
    assert.equal(down.code, 1);
    assert.ok((JSON.parse(down.stdout) as CheckReport).items.every((i) => !i.ok));
    const help = await cli(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /check \[options\]/);
    const bad = await cli(["check", "--nope"]);
    assert.equal(bad.code, 2);
  });
});
