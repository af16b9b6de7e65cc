/**
 * Readiness that tells the truth: while the first backfill runs, /health says `seeding` (with the days in so far and the
 * as-of date), and every tool answer carries the same state (a `note:` text block and `_meta["twilight/warehouse"]`),
 * so an agent can say its "latest" is not the latest. Once the daily step completed, `ready`, and answers carry nothing.
 * The run is held at its first `daily` fetch by a gate around the real fixture source.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { TOOLS } from "@twilight/core";
import { FixtureSource } from "../fixture.js";
import { startTestService, tempDir } from "../testkit.js";
import type { TushareApi, TushareParams } from "../tushare/types.js";
import type { Health } from "./health.js";
import { WAREHOUSE_META } from "./mcp.js";

const TOKEN = "seeding-token-0123456789";

/** The fixture source, except that calls of one api (`daily` unless told) wait until `open()`. */
class GatedSource implements TushareApi {
  readonly source = "fixture" as const;
  private readonly inner = new FixtureSource();
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => {
    this.release = r;
  });
  reached = false;
  constructor(private readonly gated = "daily") {}
  async query(api: string, params: TushareParams, fields?: readonly string[]) {
    if (api === this.gated) {
      this.reached = true;
      await this.gate;
    }
    return this.inner.query(api, params, fields);
  }
  open(): void {
    this.release();
  }
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("warehouse readiness while seeding", () => {
  const tmp = tempDir();
  after(() => tmp.remove());

  it("/health and every tool answer say `seeding` until the first daily backfill is in, then `ready`", async () => {
    const api = new GatedSource();
    mkdirSync(join(tmp.dir, "svc"), { recursive: true });
    const svc = await startTestService({ dataDir: join(tmp.dir, "svc"), api, schedulerEnabled: true, tokens: { p1: TOKEN } });
    const client = new Client({ name: "seeding-test", version: "1.0.0" });
    try {
      const health = async () => (await (await fetch(new URL("/health", svc.url))).json()) as Health;
      await until("the run to reach the daily step", async () => (api.reached ? true : undefined));
      const during = await health();
      assert.equal(during.seeding.state, "seeding");
      assert.equal(during.status, "degraded", "a seeding warehouse is not ok");
      assert.equal(during.seeding.as_of, null, "no daily bar is in yet");
      assert.ok(during.seeding.days_total === null || during.seeding.days_done < during.seeding.days_total);

      await client.connect(
        new StreamableHTTPClientTransport(new URL("/mcp", svc.url), {
          requestInit: { headers: { authorization: `Bearer ${TOKEN}` } },
        }),
      );
      const mid = await client.callTool({ name: TOOLS.searchStocks, arguments: { query: "茅台" } });
      assert.notEqual(mid.isError, true, JSON.stringify(mid.content));
      const meta = (mid._meta as Record<string, { state: string; as_of: string; note: string }> | undefined)?.[WAREHOUSE_META];
      assert.equal(meta?.state, "seeding");
      assert.match(meta?.as_of ?? "", /^\d{8}$/);
      const texts = (mid.content as Array<{ type: string; text: string }>).map((c) => c.text);
      assert.ok(
        texts.some((t) => /^note: the warehouse is still being seeded/.test(t)),
        `a note block in ${JSON.stringify(texts)}`,
      );
      assert.ok(JSON.parse(texts[0] ?? "{}").cite, "the first block is still the signed envelope");

      api.open();
      const ready = await until("ready", async () => {
        const h = await health();
        return h.seeding.state === "ready" ? h : undefined;
      });
      assert.equal(ready.seeding.as_of, ready.daily.newest_trade_date);
      assert.ok(ready.daily.rows > 0);
      const later = await client.callTool({ name: TOOLS.latestPrice, arguments: { ts_code: "600519.SH" } });
      assert.notEqual(later.isError, true, JSON.stringify(later.content));
      assert.equal(later._meta?.[WAREHOUSE_META], undefined, "no seeding note once ready");
      assert.equal((later.content as unknown[]).length, 1);
    } finally {
      await client.close().catch(() => undefined);
      await svc.close();
    }
  });

  it("a restarted service remembers it was seeded (the state comes from the recorded runs)", async () => {
    const dataDir = join(tmp.dir, "svc");
    const svc = await startTestService({ dataDir, schedulerEnabled: true });
    try {
      const h = (await (await fetch(new URL("/health", svc.url))).json()) as Health;
      assert.equal(h.seeding.state, "ready");
    } finally {
      await svc.close();
    }
  });

  it("a run stopped after its daily step (in fundamentals) still seeded the warehouse, across a restart", async () => {
    // CI found this one: the first run's daily step completed, the service was closed while the run was fetching
    // fundamentals, the run was recorded `aborted`, and the restarted service said `seeding` again.
    const dataDir = join(tmp.dir, "svc-stopped");
    mkdirSync(dataDir, { recursive: true });
    const api = new GatedSource("fina_indicator");
    const first = await startTestService({ dataDir, api, schedulerEnabled: true });
    await until("the run to reach fundamentals", async () => (api.reached ? true : undefined));
    const h1 = (await (await fetch(new URL("/health", first.url))).json()) as Health;
    assert.equal(h1.seeding.state, "ready", "the daily step is done");
    const closing = first.close();
    setTimeout(() => api.open(), 50);
    await closing;

    const second = await startTestService({ dataDir, schedulerEnabled: true });
    try {
      const h2 = (await (await fetch(new URL("/health", second.url))).json()) as Health;
      assert.ok(h2.scheduler.enabled && h2.scheduler.last_run?.status === "aborted", "the run itself did not finish");
      assert.equal(h2.seeding.state, "ready");
    } finally {
      await second.close();
    }
  });
});
